/**
 * @module bench/run
 * `npm run bench [-- --size MiB --count N --rounds N --upstream rgw|disk …]` (`--help` lists all)
 *
 * Measures, in one run and with identically configured SDK clients:
 *   (a) direct to the upstream, with the upstream's own credentials,
 *   (b) through the gateway into a plaintext pass-through bucket,
 *   (c) through the gateway, encrypted,
 * for one large object (single streamed PutObject, GET drained and verified) and many small ones
 * (PUT, GET verified, DELETE at fixed concurrency). The gateway's RSS and CPU time are watched per
 * phase. Each round runs every phase for every target, rotating which target goes first (so none
 * is always the one meeting a cold store), and the table shows the median over rounds: on a small
 * shared machine single runs of the same phase were seen to differ by 4x. Prints a table and
 * writes it as JSON under os.tmpdir()/s3veil-bench/.
 *
 * Upstreams: `rgw` (default) starts a Ceph RGW with test/fixtures/rgw.sh and points the gateway at
 * it; `disk` uses the gateway's own disk backend, with a second gateway instance that keeps every
 * bucket in plaintext as the "direct" baseline (there is no other server for the disk store).
 * Everything listens on 127.0.0.1 and is torn down at the end, on failure, on Ctrl-C and on the
 * time limit.
 */
import { randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { S3Client } from '@aws-sdk/client-s3'
import { formatReport, round, summarize, unitOf, type PhaseName, type PhaseResult, type Report } from './report.js'
import { currentRssMiB, watchPhase } from './rss.js'
import { Cleanup, removeDirOnCleanup, startGatewayProcess, startRgw, summarizeLog, type GatewayProcess } from './services.js'
import {
  createBucket,
  deleteObject,
  deleteSmall,
  getLarge,
  getSmall,
  makeClient,
  putLarge,
  putSmall,
  type SmallOptions,
  type Target,
} from './workloads.js'

const HELP = `Usage: npm run bench -- [options]

  --size MiB          large object size (default 1024; single PutObject, at most 5120)
  --count N           number of small objects (default 2000)
  --small-size BYTES  size of each small object (default 4096)
  --concurrency N     requests in flight for small objects (default 16)
  --rounds N          repeat every phase N times, rotating the target order; medians shown (default 3)
  --upstream rgw|disk Ceph RGW started for the run (default), or the gateway's disk backend
  --timeout SECONDS   give up and clean up after this long (default 1500)
  -h, --help          this text
`

interface Options {
  sizeMiB: number
  count: number
  smallSize: number
  concurrency: number
  upstream: 'rgw' | 'disk'
  rounds: number
  timeoutSeconds: number
}

function positiveInt(text: string | undefined, fallback: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer from 1 to ${max}, got "${text}"`)
  return n
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      count: { type: 'string' },
      'small-size': { type: 'string' },
      concurrency: { type: 'string' },
      upstream: { type: 'string' },
      rounds: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return undefined
  const upstream = values.upstream ?? 'rgw'
  if (upstream !== 'rgw' && upstream !== 'disk') throw new Error(`--upstream must be rgw or disk, got "${upstream}"`)
  return {
    // The gateway refuses single PUTs over 5 GiB, as S3 does.
    sizeMiB: positiveInt(values.size, 1024, 'size', 5120),
    count: positiveInt(values.count, 2000, 'count', 1_000_000),
    smallSize: positiveInt(values['small-size'], 4096, 'small-size', 64 * 1024 * 1024),
    concurrency: positiveInt(values.concurrency, 16, 'concurrency', 256),
    upstream,
    rounds: positiveInt(values.rounds, 3, 'rounds', 100),
    timeoutSeconds: positiveInt(values.timeout, 1500, 'timeout'),
  }
}

function rgwVersion(): string {
  try {
    const text = execFileSync('radosgw', ['--version'], { encoding: 'utf8', timeout: 10_000 })
    return /ceph version (\S+)/.exec(text)?.[1] ?? 'unknown version'
  } catch {
    return 'unknown version'
  }
}

function randomSecret(length: number): string {
  return randomBytes(length).toString('base64url').slice(0, length)
}

async function bench(options: Options, cleanup: Cleanup, controller: AbortController): Promise<Report> {
  const signal = controller.signal
  const startedAt = new Date()
  // Taken before anything starts: it shows whether the machine was busy with other work.
  const loadAtStart = loadavg().map((l) => round(l, 2))
  const largeBytes = options.sizeMiB * 1024 * 1024
  const problems: string[] = []
  const workDir = await mkdtemp(join(tmpdir(), 's3veil-bench-'))
  removeDirOnCleanup(cleanup, workDir)
  const resultsDir = join(tmpdir(), 's3veil-bench')
  await mkdir(resultsDir, { recursive: true })
  const onExit = (message: string) => {
    problems.push(message)
    controller.abort(new Error(message))
  }

  const user = { id: 'BENCH' + randomBytes(8).toString('hex').toUpperCase(), secret: randomSecret(40) }
  const gatewayBase = {
    region: 'us-east-1',
    keyring: { current: 'bench', keys: [{ id: 'bench', key: randomBytes(32).toString('base64') }] },
    users: [{ name: 'bench', accessKeys: [{ id: user.id, secret: user.secret }], policies: ['full-access'] }],
    policies: { 'full-access': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } },
    plaintextBuckets: ['bench-plain'],
    // info, as in production: the per-request audit record is part of what a request costs.
    logLevel: 'info',
  }
  const userCredentials = { accessKeyId: user.id, secretAccessKey: user.secret }
  let gateway: GatewayProcess
  let baseline: GatewayProcess | undefined
  let upstreamLabel: string
  let directClient: S3Client

  if (options.upstream === 'rgw') {
    // memstore holds objects in RAM, and a deleted object's data lingers until RGW's garbage
    // collector runs (every 60 s in the fixture), so the cap leaves room for every large object of
    // the run. It is a cap: only bytes in use are resident. S3VEIL_RGW_MEMSTORE_BYTES overrides it.
    const memstoreBytes =
      Number(process.env.S3VEIL_RGW_MEMSTORE_BYTES) || Math.max(6 * 1024 ** 3, 3 * options.rounds * largeBytes + 2 * 1024 ** 3)
    process.stderr.write(`bench: starting Ceph RGW (memstore up to ${round(memstoreBytes / 1024 ** 3)} GiB)…\n`)
    const rgw = await startRgw(cleanup, memstoreBytes, signal)
    upstreamLabel = `Ceph RGW ${rgwVersion()} on memstore (RAM), ${rgw.endpoint}`
    gateway = await startGatewayProcess({
      name: 'gateway',
      config: {
        ...gatewayBase,
        storage: {
          type: 's3',
          endpoint: rgw.endpoint,
          region: rgw.region,
          forcePathStyle: true,
          accessKeyId: rgw.accessKeyId,
          secretAccessKey: rgw.secretAccessKey,
        },
      },
      configFile: join(workDir, 'gateway.json'),
      logFile: join(resultsDir, 'gateway.log'),
      cleanup,
      onExit,
    })
    directClient = makeClient(rgw.endpoint, { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey }, options.concurrency)
  } else {
    upstreamLabel = `gateway disk backend under ${workDir}`
    gateway = await startGatewayProcess({
      name: 'gateway',
      config: { ...gatewayBase, storage: { type: 'disk', dataDir: join(workDir, 'data') } },
      configFile: join(workDir, 'gateway.json'),
      logFile: join(resultsDir, 'gateway.log'),
      cleanup,
      onExit,
    })
    baseline = await startGatewayProcess({
      name: 'baseline gateway',
      config: {
        ...gatewayBase,
        storage: { type: 'disk', dataDir: join(workDir, 'direct-data') },
        plaintextBuckets: ['bench-direct', 'bench-plain', 'bench-enc'],
      },
      configFile: join(workDir, 'baseline.json'),
      logFile: join(resultsDir, 'baseline-gateway.log'),
      cleanup,
      onExit,
    })
    directClient = makeClient(baseline.url, userCredentials, options.concurrency)
  }
  const gatewayClient = makeClient(gateway.url, userCredentials, options.concurrency)
  const targets: Target[] = [
    baseline
      ? { id: 'a', label: 'direct (all-plaintext gateway)', client: directClient, bucket: 'bench-direct', watchPid: baseline.pid }
      : { id: 'a', label: 'direct to RGW', client: directClient, bucket: 'bench-direct', watchPid: gateway.pid },
    { id: 'b', label: 'gateway, plaintext bucket', client: gatewayClient, bucket: 'bench-plain', watchPid: gateway.pid },
    { id: 'c', label: 'gateway, encrypted bucket', client: gatewayClient, bucket: 'bench-enc', watchPid: gateway.pid },
  ]
  cleanup.add('sdk clients', async () => targets.forEach((t) => t.client.destroy()), () => {})
  for (const target of targets) await createBucket(target, signal)

  const rssAfterStart = currentRssMiB(gateway.pid)
  process.stderr.write(`bench: gateway ${gateway.url} (pid ${gateway.pid}, ${rssAfterStart} MiB RSS); warming up…\n`)
  // Warm-up: open keep-alive sockets and let V8 optimise the request paths before anything counts.
  const warm: SmallOptions = { count: options.concurrency * 4, size: options.smallSize, concurrency: options.concurrency, first: 900_000_000 }
  for (const target of targets) {
    await putSmall(target, warm, signal)
    await getSmall(target, warm, signal)
    await deleteSmall(target, warm, signal)
  }
  const rssAfterWarmup = currentRssMiB(gateway.pid)

  const phases: PhaseResult[] = []
  async function measure(roundIndex: number, target: Target, phase: PhaseName, run: () => Promise<number>, amount: number): Promise<boolean> {
    const watcher = watchPhase(target.watchPid)
    const result: PhaseResult = { round: roundIndex, target: target.id, phase, rate: null, seconds: null, usage: null }
    try {
      const seconds = await run()
      result.seconds = round(seconds, 3)
      result.rate = round(amount / seconds)
    } catch (err) {
      // A time limit or Ctrl-C ends the run; any other failure is a finding, recorded and reported.
      if (signal.aborted) throw signal.reason
      result.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      problems.push(`round ${roundIndex + 1}, ${target.id} ${phase}: ${result.error}`)
    } finally {
      result.usage = watcher.end()
      phases.push(result)
    }
    process.stderr.write(
      `bench: round ${roundIndex + 1} ${target.id} ${phase}: ${result.rate ?? 'FAILED'} ${unitOf(phase)}, ` +
        `gateway peak RSS ${result.usage.peakRssMiB} MiB\n`
    )
    return result.error === undefined
  }
  const skip = (roundIndex: number, target: Target, phase: PhaseName, why: string) =>
    phases.push({ round: roundIndex, target: target.id, phase, rate: null, seconds: null, usage: null, error: why })

  async function largeObject(roundIndex: number, target: Target): Promise<void> {
    const key = `large/object-${roundIndex}.bin`
    let sent: { crc: number; bytes: number } | undefined
    const put = async () => {
      const result = await putLarge(target, key, largeBytes, signal)
      sent = result
      return result.seconds
    }
    if ((await measure(roundIndex, target, 'large PUT', put, options.sizeMiB)) && sent) {
      const expected = sent
      const get = async () => {
        const got = await getLarge(target, key, signal)
        if (got.bytes !== expected.bytes || got.crc !== expected.crc) {
          throw new Error(`GET returned ${got.bytes} bytes with CRC-32 ${got.crc}; the PUT sent ${expected.bytes} bytes with CRC-32 ${expected.crc}`)
        }
        return got.seconds
      }
      await measure(roundIndex, target, 'large GET', get, options.sizeMiB)
    } else {
      skip(roundIndex, target, 'large GET', 'skipped: the PUT failed')
    }
    // Not measured: frees the store (RGW keeps it in RAM) before the next target.
    await deleteObject(target, key, signal).catch((err: unknown) => {
      if (signal.aborted) throw signal.reason
      problems.push(`round ${roundIndex + 1}, ${target.id} deleting the large object: ${err instanceof Error ? err.message : String(err)}`)
    })
  }

  async function smallObjects(roundIndex: number, target: Target): Promise<void> {
    const small: SmallOptions = { count: options.count, size: options.smallSize, concurrency: options.concurrency }
    if (await measure(roundIndex, target, 'small PUT', () => putSmall(target, small, signal), options.count)) {
      await measure(roundIndex, target, 'small GET', () => getSmall(target, small, signal), options.count)
      await measure(roundIndex, target, 'small DELETE', () => deleteSmall(target, small, signal), options.count)
    } else {
      skip(roundIndex, target, 'small GET', 'skipped: the PUTs failed')
      skip(roundIndex, target, 'small DELETE', 'skipped: the PUTs failed')
    }
  }

  const rssAfterRounds: (number | null)[] = []
  for (let r = 0; r < options.rounds; r++) {
    // abc, bca, cab, …: each target goes first, second and third equally often.
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!)
    for (const target of order) await largeObject(r, target)
    for (const target of order) await smallObjects(r, target)
    rssAfterRounds.push(currentRssMiB(gateway.pid))
  }

  const gatewayLogs: Report['gatewayLogs'] = { gateway: { ...(await summarizeLog(gateway.logFile)), file: gateway.logFile } }
  if (baseline) gatewayLogs['baseline gateway'] = { ...(await summarizeLog(baseline.logFile)), file: baseline.logFile }
  for (const [name, log] of Object.entries(gatewayLogs)) {
    // Node's own warnings (e.g. the SDK's notice about future Node versions) are shown, not counted.
    if (log.errors > 0 || log.warnings > 0) problems.push(`${name} logged ${log.errors} error(s) and ${log.warnings} warning(s); see ${log.file}`)
    const failed = Object.entries(log.failedRequests)
    if (failed.length > 0) problems.push(`${name} answered failures: ${failed.map(([k, v]) => `${v} x ${k}`).join(', ')}`)
  }

  return {
    date: startedAt.toISOString(),
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: round(totalmem() / 1024 ** 3),
      os: `${osType()} ${release()}`,
      node: process.version,
      loadAtStart,
    },
    settings: { ...options, largeBytes },
    upstream: upstreamLabel,
    targets: Object.fromEntries(targets.map((t) => [t.id, `${t.label} (bucket ${t.bucket})`])) as Report['targets'],
    aWatched: baseline ? 'baseline gateway' : 'gateway, idle',
    summary: summarize(phases),
    phases,
    gatewayRss: { afterStartMiB: rssAfterStart, afterWarmupMiB: rssAfterWarmup, afterEachRoundMiB: rssAfterRounds },
    gatewayLogs,
    problems,
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  if (!options) {
    process.stdout.write(HELP)
    return 0
  }
  const cleanup = new Cleanup()
  // The last line of defence: whatever happens, no RGW daemons, gateways or key files stay behind.
  process.on('exit', () => cleanup.runAllSync())
  const controller = new AbortController()
  // Every request in flight listens on the one run-wide signal (the SDK removes its listener when the
  // request closes), so more than Node's default 10 at a time is expected, not a leak.
  setMaxListeners(options.concurrency * 4 + 16, controller.signal)
  let interrupts = 0
  const onSignal = (name: string) => {
    if (++interrupts > 1) process.exit(130)
    controller.abort(new Error(`interrupted by ${name}`))
  }
  process.on('SIGINT', () => onSignal('SIGINT'))
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  const deadline = setTimeout(() => controller.abort(new Error(`time limit of ${options.timeoutSeconds} s reached`)), options.timeoutSeconds * 1000)
  // If the aborted run still hangs (a stuck socket), exit anyway: the exit hook cleans up.
  const hardStop = setTimeout(() => {
    process.stderr.write('bench: still running 60 s after the time limit; exiting\n')
    process.exit(1)
  }, options.timeoutSeconds * 1000 + 60_000)
  hardStop.unref()

  let code = 0
  try {
    const report = await bench(options, cleanup, controller)
    const resultsDir = join(tmpdir(), 's3veil-bench')
    const json = JSON.stringify(report, null, 2) + '\n'
    const latest = join(resultsDir, 'latest.json')
    await writeFile(latest, json)
    await writeFile(join(resultsDir, `run-${report.date.replace(/[:.]/g, '-')}.json`), json)
    process.stdout.write(formatReport(report) + '\n')
    process.stdout.write(`\nJSON: ${latest}\n`)
    if (report.phases.some((p) => p.error)) code = 1
  } catch (err) {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    code = 1
  } finally {
    clearTimeout(deadline)
    const failures = await cleanup.runAll()
    for (const failure of failures) process.stderr.write(`bench: cleanup: ${failure}\n`)
  }
  return code
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
)
