/**
 * @module conformance/run
 * `npm run conformance -- --endpoint URL --access-key AK --secret-key SK [--region R]
 * [--bucket-prefix P] [--ca-bundle PEM] [--label L] [--only area,…] [--report-dir DIR] [--verbose]
 * [--expected-failures FILE] [-- vitest file filters]`: runs the S3 conformance suite against any
 * endpoint and exits non-zero on any unexpected result. Without --endpoint it starts the gateway on
 * its embedded default (disk, generated development keys) in a temporary directory and runs against it.
 */
import { readdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startGateway, type GatewayProcess } from '../test/helpers/gateway.js'
import { PreflightError, preflight } from './support/preflight.js'
import { CONFORMANCE_DIR, runSuite } from './support/runner.js'

// The SDK's notice that its 2027 releases need Node 22 is for this repository's maintainers, not the report.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

/** The report's areas: one per case file, and `client` (all clients) or `client NAME` (one). */
const caseFiles = (dir: string) => readdirSync(join(CONFORMANCE_DIR, dir)).filter((f) => f.endsWith('.test.ts')).map((f) => f.slice(0, -8))
const AREAS = caseFiles('cases')
const CLIENTS = caseFiles('clients')

const USAGE = `usage: npm run conformance -- [--endpoint URL --access-key AK --secret-key SK] [options] [-- vitest filters]

  --endpoint URL         S3 endpoint (http or https). Without it: the gateway's embedded default, started here
  --access-key AK        access key id (or AWS_ACCESS_KEY_ID)
  --secret-key SK        secret access key (or AWS_SECRET_ACCESS_KEY: npm prints options, so prefer it)
  --region R             signing region and bucket location (default: AWS_REGION or us-east-1)
  --bucket-prefix P      prefix of the buckets the suite creates (default s3vc); --bucket is the same
  --ca-bundle PEM        CA certificates to trust for an https endpoint
  --label L              names the report and picks the lines of expected-failures.txt that apply (their
                         first column is a glob over labels). Default: gateway-disk-http for the embedded
                         gateway; gateway-http/gateway-https when the endpoint is an s3veil gateway (its
                         documented deviations apply); otherwise custom, where no deviation is expected.
                         rgw-direct (or any rgw*) applies Ceph RGW 16's known deviations.
  --only a,b             run only these areas: ${AREAS.join(', ')},
                         client (every real client) or client NAME (${CLIENTS.join(', ')})
  --report-dir DIR       where summary.json, junit.xml and results.json go (default conformance/results/LABEL)
  --expected-failures F  another expected-failures list (default conformance/expected-failures.txt)
  --verbose              list passing cases too
`

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      endpoint: { type: 'string' },
      'access-key': { type: 'string' },
      'secret-key': { type: 'string' },
      region: { type: 'string' },
      'bucket-prefix': { type: 'string' },
      bucket: { type: 'string' },
      'ca-bundle': { type: 'string' },
      label: { type: 'string' },
      only: { type: 'string' },
      'report-dir': { type: 'string' },
      'expected-failures': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  let gateway: GatewayProcess | undefined
  let endpoint = values.endpoint
  let accessKeyId = values['access-key'] ?? process.env.AWS_ACCESS_KEY_ID
  let secretAccessKey = values['secret-key'] ?? process.env.AWS_SECRET_ACCESS_KEY
  let label = values.label
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = only?.filter((a) => !AREAS.includes(a) && a !== 'client' && !CLIENTS.some((c) => a === `client ${c}`))
  if (unknown?.length) {
    process.stderr.write(`conformance: unknown area ${unknown.map((a) => JSON.stringify(a)).join(', ')}\n\n${USAGE}`)
    return 2
  }
  if (!endpoint) {
    if (values['access-key'] || values['secret-key']) {
      process.stderr.write('conformance: --access-key and --secret-key need --endpoint (without it the suite starts its own gateway)\n')
      return 2
    }
    gateway = await startGateway()
    endpoint = gateway.url
    accessKeyId = gateway.accessKeyId
    secretAccessKey = gateway.secretAccessKey
    label ??= 'gateway-disk-http'
    process.stdout.write(`conformance: started the gateway (embedded default) at ${endpoint}\n`)
  }
  if (!accessKeyId || !secretAccessKey) {
    process.stderr.write(`conformance: --endpoint needs --access-key and --secret-key\n\n${USAGE}`)
    return 2
  }
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1'
  try {
    try {
      const { s3veil } = await preflight({ endpoint, accessKeyId, secretAccessKey, region, caBundle: values['ca-bundle'] })
      if (label === undefined) {
        label = s3veil ? `gateway-${new URL(endpoint).protocol.slice(0, -1)}` : 'custom'
        const why = s3veil ? 'an s3veil gateway: its documented deviations are expected' : 'no known deviations are expected'
        process.stdout.write(`conformance: target label ${label} (${why}; --label to choose)\n`)
      }
    } catch (err) {
      if (!(err instanceof PreflightError)) throw err
      process.stderr.write(`conformance: ${err.message}\n`)
      return 2
    }
    const run = await runSuite(
      {
        label,
        endpoint,
        accessKeyId,
        secretAccessKey,
        region,
        caBundle: values['ca-bundle'],
        bucketPrefix: values['bucket-prefix'] ?? values.bucket,
      },
      {
        reportDir: values['report-dir'] ?? join(CONFORMANCE_DIR, 'results', label),
        only,
        vitestArgs: positionals,
        verbose: values.verbose,
        expectedFailuresFile: values['expected-failures'],
      }
    )
    return run.ok ? 0 : 1
  } finally {
    if (gateway) {
      await gateway.stop()
      await rm(gateway.dataDir, { recursive: true, force: true })
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`conformance: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  }
)
