/**
 * @module bench/services
 * The processes a benchmark run needs, all on 127.0.0.1, each registered for cleanup before it is
 * started: a Ceph RGW (test/fixtures/rgw.sh, the same fixture the tests use) and s3veil gateways
 * run as child processes (`bin/s3veil.js serve`), the way a user runs them.
 *
 * The test helpers are not reused: test/helpers/rgw.ts imports vitest, and the bench needs the
 * gateway's pid (for RSS sampling) and its log in a file rather than in a pipe we must drain.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, rmSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { RGW_SCRIPT, parseRgwOutput, runRgwScript, type RgwConnection } from '../test/fixtures/rgw-script.js'

export const REPO_ROOT = resolve(import.meta.dirname, '..')
const GATEWAY_BIN = join(REPO_ROOT, 'bin/s3veil.js')

interface Task {
  name: string
  run: () => Promise<void>
  /** For process 'exit', where nothing asynchronous runs any more. */
  runSync: () => void
  done: boolean
}

/**
 * Undo actions, run last-in first-out. The asynchronous path is the normal one; the synchronous one
 * is the fallback on process exit, so an uncaught crash still leaves no daemons or temp dirs behind.
 */
export class Cleanup {
  private readonly tasks: Task[] = []

  add(name: string, run: () => Promise<void>, runSync: () => void): void {
    this.tasks.push({ name, run, runSync, done: false })
  }

  /** Runs every pending task, newest first; returns the failures instead of stopping at the first. */
  async runAll(): Promise<string[]> {
    const failures: string[] = []
    for (const task of [...this.tasks].reverse()) {
      if (task.done) continue
      task.done = true
      try {
        await task.run()
      } catch (err) {
        failures.push(`${task.name}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    return failures
  }

  runAllSync(): void {
    for (const task of [...this.tasks].reverse()) {
      if (task.done) continue
      task.done = true
      try {
        task.runSync()
      } catch {
        // best effort: the process is exiting
      }
    }
  }
}

/** A port nobody listens on right now (the OS's ephemeral range, away from Ceph's 6800-7300). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : undefined
      server.close(() => (port ? resolvePort(port) : reject(new Error('no free port'))))
    })
  })
}

/**
 * Starts a Ceph RGW whose memstore may hold `memstoreBytes` (only used bytes are resident). Two
 * attempts, since a port found free can be taken before the daemons bind it.
 */
export async function startRgw(cleanup: Cleanup, memstoreBytes: number, signal: AbortSignal): Promise<RgwConnection> {
  let lastError: unknown
  for (let attempt = 0; attempt < 2; attempt++) {
    const port = await freePort()
    let monPort = await freePort()
    while (monPort === port) monPort = await freePort()
    const env = { ...process.env, S3VEIL_RGW_MON_PORT: String(monPort), S3VEIL_RGW_MEMSTORE_BYTES: String(memstoreBytes) }
    // Registered before starting: the daemons run in their own sessions and would outlive a start
    // that we abort half-way. `stop` only touches what its pid files and stamped DIR name.
    cleanup.add(
      `rgw on port ${port}`,
      async () => void (await runRgwScript(['stop', String(port)], env, 60_000)),
      () => void execFileSync('bash', [RGW_SCRIPT, 'stop', String(port)], { env, stdio: 'ignore', timeout: 30_000 })
    )
    try {
      return parseRgwOutput(await runRgwScript(['start', String(port)], env, 300_000, signal))
    } catch (err) {
      if (signal.aborted) throw err
      lastError = err
    }
  }
  throw lastError
}

export interface GatewayProcess {
  url: string
  pid: number
  logFile: string
  /** Set when the process ended before we stopped it. */
  unexpectedExit(): string | undefined
}

const LISTENING = /"url":"(http[^"]+)"[^\n]*"msg":"listening"|"msg":"listening"[^\n]*"url":"(http[^"]+)"/

/**
 * Starts `bin/s3veil.js serve --port 0 --config <file>` with its stdout and stderr going straight to
 * `logFile`: a pipe would make the bench process spend CPU draining the gateway's request log while
 * it measures, and the file stays for inspection afterwards. `onExit` hears of an unexpected exit.
 */
export async function startGatewayProcess(options: {
  name: string
  config: Record<string, unknown>
  configFile: string
  logFile: string
  cleanup: Cleanup
  onExit: (message: string) => void
}): Promise<GatewayProcess> {
  const { name, config, configFile, logFile, cleanup } = options
  await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 })
  const fd = openSync(logFile, 'w')
  let child: ChildProcess
  try {
    child = spawn(process.execPath, [GATEWAY_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--config', configFile], {
      cwd: REPO_ROOT,
      env: process.env,
      stdio: ['ignore', fd, fd],
    })
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd)
  }
  let stopping = false
  let exitMessage: string | undefined
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.once('exit', (code, sig) => {
    if (stopping) return
    exitMessage = `${name} exited unexpectedly (code ${code}, signal ${sig}); log: ${logFile}`
    options.onExit(exitMessage)
  })
  cleanup.add(
    name,
    async () => {
      stopping = true
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
    () => {
      stopping = true
      child.kill('SIGKILL')
    }
  )
  if (child.pid === undefined) throw new Error(`${name}: could not be spawned`)
  const deadline = Date.now() + 30_000
  for (;;) {
    const log = await readFile(logFile, 'utf8')
    const match = LISTENING.exec(log)
    if (match) return { url: (match[1] ?? match[2])!, pid: child.pid, logFile, unexpectedExit: () => exitMessage }
    if (exitMessage !== undefined) throw new Error(`${exitMessage}\n${log}`)
    if (Date.now() > deadline) throw new Error(`${name} did not log "listening" within 30 s:\n${log}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Registers removal of a temp dir (it may hold keys and upstream credentials). */
export function removeDirOnCleanup(cleanup: Cleanup, dir: string): void {
  cleanup.add(
    `remove ${dir}`,
    () => rm(dir, { recursive: true, force: true }),
    () => rmSync(dir, { recursive: true, force: true })
  )
}

export interface LogSummary {
  lines: number
  /** pino records at level warn (40). */
  warnings: number
  /** pino records at level error or fatal (>= 50). */
  errors: number
  /** request records with a status >= 400, by status and S3 error code. */
  failedRequests: Record<string, number>
  /**
   * Output that is not a pino record (Node process warnings, crash traces), one entry per block of
   * consecutive lines: its first line and how many lines it had.
   */
  otherOutput: { first: string; lines: number }[]
  /** The first few warning and error records, for the report. */
  samples: string[]
}

/** Reads a gateway log after the run: the counts tell whether the gateway misbehaved while measured. */
export async function summarizeLog(logFile: string): Promise<LogSummary> {
  const summary: LogSummary = { lines: 0, warnings: 0, errors: 0, failedRequests: {}, otherOutput: [], samples: [] }
  const text = await readFile(logFile, 'utf8').catch(() => '')
  let inBlock = false
  for (const line of text.split('\n')) {
    if (!line) continue
    summary.lines++
    let record: { level?: number; msg?: string; status?: number; errorCode?: string }
    try {
      record = JSON.parse(line) as typeof record
    } catch {
      if (inBlock) summary.otherOutput[summary.otherOutput.length - 1]!.lines++
      else summary.otherOutput.push({ first: line.slice(0, 200), lines: 1 })
      inBlock = true
      continue
    }
    inBlock = false
    const level = record.level ?? 30
    // No dev-key warning can occur (the bench passes a config), so any warning is news.
    if (level >= 50) summary.errors++
    else if (level >= 40) summary.warnings++
    if (level >= 40 && summary.samples.length < 5) summary.samples.push(line.slice(0, 300))
    if (record.msg === 'request' && typeof record.status === 'number' && record.status >= 400) {
      const label = `${record.status} ${record.errorCode ?? ''}`.trim()
      summary.failedRequests[label] = (summary.failedRequests[label] ?? 0) + 1
    }
  }
  return summary
}
