/**
 * @module conformance/run
 * `npm run conformance -- --endpoint URL --access-key AK --secret-key SK [--region R]
 * [--bucket-prefix P] [--ca-bundle PEM] [--label L] [--only area,…] [--report-dir DIR] [--verbose]
 * [--expected-failures FILE] [-- vitest file filters]`: runs the S3 conformance suite against any
 * endpoint and exits non-zero on any unexpected result. Without --endpoint it starts the gateway on
 * its embedded default (disk, generated development keys) in a temporary directory and runs against it.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startGateway, type GatewayProcess } from '../test/helpers/gateway.js'
import { CONFORMANCE_DIR, runSuite } from './support/runner.js'

const USAGE = `usage: npm run conformance -- [--endpoint URL --access-key AK --secret-key SK] [options] [-- vitest filters]

  --endpoint URL         S3 endpoint (http or https). Without it: the gateway's embedded default, started here
  --access-key AK        access key id (or AWS_ACCESS_KEY_ID)
  --secret-key SK        secret access key (or AWS_SECRET_ACCESS_KEY)
  --region R             signing region and bucket location (default: AWS_REGION or us-east-1)
  --bucket-prefix P      prefix of the buckets the suite creates (default s3vc); --bucket is the same
  --ca-bundle PEM        CA certificates to trust for an https endpoint
  --label L              target label (report, expected-failures.txt); default custom, or gateway-disk-http
  --only a,b             run only these areas (e.g. object,list,multipart)
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
  if (!endpoint) {
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
  label ??= 'custom'
  try {
    const run = await runSuite(
      {
        label,
        endpoint,
        accessKeyId,
        secretAccessKey,
        region: values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        caBundle: values['ca-bundle'],
        bucketPrefix: values['bucket-prefix'] ?? values.bucket,
      },
      {
        reportDir: values['report-dir'] ?? join(CONFORMANCE_DIR, 'results', label),
        only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
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
