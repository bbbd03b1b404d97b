/**
 * @module conformance/ci
 * `npm run conformance:ci`: the CI matrix of the conformance suite. Starts one Ceph RGW
 * (test/fixtures/rgw.sh via bench/services.ts) and runs every case and client against
 *   gateway-disk-http, gateway-rgw-http, gateway-disk-https, gateway-rgw-https (a gateway process per
 *   target, TLS from a CA made here with openssl) and rgw-direct (RGW itself, the reference),
 * checking RGW between targets and restarting it if it died (radosgw 16.2 can abort in long runs).
 * Writes conformance/REPORT.md (or --report FILE) and exits non-zero on any unexpected result.
 * Options: --only-targets a,b  --only area,…  --report FILE  --keep-report (do not write REPORT.md).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Cleanup, removeDirOnCleanup, startGatewayProcess, startRgw } from '../bench/services.js'
import { runRgwScript, type RgwConnection } from '../test/fixtures/rgw-script.js'
import { issue, makeCa } from '../test/helpers/certs.js'
import { renderReport, type TargetRun } from './support/report-md.js'
import { CONFORMANCE_DIR, REPO_ROOT, runSuite, type SuiteTarget } from './support/runner.js'

const TARGETS = ['gateway-disk-http', 'gateway-rgw-http', 'gateway-disk-https', 'gateway-rgw-https', 'rgw-direct'] as const
type TargetLabel = (typeof TARGETS)[number]

const RGW_MEMSTORE_BYTES = 2 * 1024 ** 3

interface Tls {
  caFile: string
  certFile: string
  keyFile: string
}

/** A CA and a server certificate for 127.0.0.1 made with openssl (test/helpers/certs.ts). */
async function makeTls(dir: string): Promise<Tls> {
  const ca = await makeCa(dir, 's3veil conformance CA')
  const server = await issue(dir, ca, { subject: '/O=s3veil conformance/CN=127.0.0.1', usage: 'server', name: 'server' })
  return { caFile: ca.cert, certFile: server.chain, keyFile: server.key }
}

function gatewayConfig(storage: Record<string, unknown>, tls: Tls | undefined) {
  const accessKeyId = 'AKCONF' + randomBytes(7).toString('hex').toUpperCase()
  const secretAccessKey = randomBytes(30).toString('base64')
  const config: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 0 },
    region: 'us-east-1',
    storage,
    keyring: { current: 'k1', keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] },
    users: [{ name: 'conformance', accessKeys: [{ id: accessKeyId, secret: secretAccessKey }], policies: ['all'] }],
    policies: { all: { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } },
    logLevel: 'info',
  }
  if (tls) config.tls = { host: '127.0.0.1', port: 0, cert: tls.certFile, key: { file: tls.keyFile } }
  return { config, accessKeyId, secretAccessKey }
}

async function rgwAlive(rgw: RgwConnection): Promise<boolean> {
  const port = new URL(rgw.endpoint).port
  try {
    await runRgwScript(['status', port], process.env, 30_000)
    return true
  } catch {
    return false
  }
}

function version(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000, env }).split('\n')[0]!.trim()
  } catch {
    return 'not available'
  }
}

function versions(): Record<string, string> {
  const sdk = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@aws-sdk/client-s3/package.json'), 'utf8')) as { version: string }
  const noCa = { ...process.env }
  delete noCa.AWS_CA_BUNDLE
  return {
    'Node.js': process.version,
    '@aws-sdk/client-s3': sdk.version,
    'aws-cli v2 (/usr/bin/aws)': version('/usr/bin/aws', ['--version']),
    'aws-cli v1 (aws on PATH)': version('aws', ['--version']),
    boto3: version('python3', ['-c', 'import boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)']),
    s3cmd: version('s3cmd', ['--version']),
    rclone: version('rclone', ['version'], noCa),
    'Ceph RGW': version('radosgw', ['--version']),
  }
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()
    return dirty ? `${head} (with uncommitted changes)` : head
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'only-targets': { type: 'string' },
      only: { type: 'string' },
      report: { type: 'string' },
      'keep-report': { type: 'boolean' },
    },
  })
  const wanted = (values['only-targets']?.split(',').map((s) => s.trim()) ?? [...TARGETS]) as TargetLabel[]
  for (const w of wanted) if (!TARGETS.includes(w)) throw new Error(`unknown target ${w}; known: ${TARGETS.join(', ')}`)
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean)
  const started = Date.now()
  const cleanup = new Cleanup()
  const onExit = () => cleanup.runAllSync()
  process.once('exit', onExit)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  const runs: TargetRun[] = []
  try {
    const work = await mkdtemp(join(tmpdir(), 's3veil-conformance-'))
    removeDirOnCleanup(cleanup, work)
    const tls = await makeTls(work)
    const controller = new AbortController()
    let rgw: RgwConnection | undefined
    const needRgw = wanted.some((t) => t.includes('rgw'))
    const ensureRgw = async (): Promise<RgwConnection> => {
      if (rgw && (await rgwAlive(rgw))) return rgw
      if (rgw) process.stdout.write(`conformance:ci: RGW at ${rgw.endpoint} is not healthy; starting a new one\n`)
      rgw = await startRgw(cleanup, RGW_MEMSTORE_BYTES, controller.signal)
      return rgw
    }
    if (needRgw) await ensureRgw()
    for (const label of wanted) {
      const t0 = Date.now()
      process.stdout.write(`\n=== conformance:ci: ${label} ===\n`)
      let target: SuiteTarget
      let gatewayLog: string | undefined
      let unexpectedExit: (() => string | undefined) | undefined
      if (label === 'rgw-direct') {
        const r = await ensureRgw()
        target = { label, endpoint: r.endpoint, accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey, region: r.region }
      } else {
        const https = label.endsWith('-https')
        const storage = label.startsWith('gateway-rgw')
          ? await ensureRgw().then((r) => ({
              type: 's3',
              endpoint: r.endpoint,
              region: r.region,
              forcePathStyle: true,
              accessKeyId: r.accessKeyId,
              secretAccessKey: r.secretAccessKey,
            }))
          : { type: 'disk', dataDir: await mkdtemp(join(work, 'disk-')) }
        const { config, accessKeyId, secretAccessKey } = gatewayConfig(storage, https ? tls : undefined)
        const gw = await startGatewayProcess({
          name: `gateway for ${label}`,
          config,
          configFile: join(work, `${label}.json`),
          logFile: join(work, `${label}.log`),
          cleanup,
          onExit: (message) => process.stderr.write(`conformance:ci: ${message}\n`),
        })
        gatewayLog = gw.logFile
        unexpectedExit = gw.unexpectedExit
        let endpoint = gw.url
        if (https) {
          const log = await readFile(gw.logFile, 'utf8')
          const m = /"tlsUrl":"(https:[^"]+)"/.exec(log)
          if (!m) throw new Error(`${label}: the gateway did not report a TLS listener (is the tls config section served?)`)
          endpoint = m[1]!
        }
        target = { label, endpoint, accessKeyId, secretAccessKey, region: 'us-east-1', caBundle: https ? tls.caFile : undefined }
      }
      const run = await runSuite(target, { reportDir: join(CONFORMANCE_DIR, 'results', label), only })
      // Gateways keep running until the end (the cleanup stops them): one that died mid-run is a failure.
      const exit = unexpectedExit?.()
      runs.push({
        label,
        endpoint: target.endpoint,
        ok: run.ok && !exit,
        summary: run.summary,
        exitCode: run.exitCode,
        durationMs: Date.now() - t0,
        note: exit ?? (run.summary ? undefined : 'no summary: the suite did not run to its end'),
      })
      if (exit) process.stderr.write(`conformance:ci: ${exit}; log: ${gatewayLog}\n`)
    }
  } finally {
    const failures = await cleanup.runAll()
    for (const f of failures) process.stderr.write(`conformance:ci: cleanup: ${f}\n`)
    process.off('exit', onExit)
  }
  const ok = runs.length > 0 && runs.every((r) => r.ok)
  const markdown = renderReport({
    date: new Date(),
    commit: gitCommit(),
    versions: versions(),
    runs,
    durationMs: Date.now() - started,
    partial: Boolean(values.only || values['only-targets']),
  })
  const reportFile = values.report ?? join(CONFORMANCE_DIR, 'REPORT.md')
  if (!values['keep-report']) await writeFile(reportFile, markdown)
  process.stdout.write(`\nconformance:ci: ${runs.map((r) => `${r.label} ${r.ok ? 'ok' : 'FAILED'}`).join(', ')}` +
    ` in ${((Date.now() - started) / 1000).toFixed(0)} s${values['keep-report'] ? '' : `; report: ${reportFile}`}\n`)
  return ok ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`conformance:ci: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(2)
  }
)
