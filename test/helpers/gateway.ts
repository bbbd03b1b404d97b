/**
 * Starts the gateway as a real process (`bin/s3veil.js serve`) on 127.0.0.1 with an ephemeral
 * port, the way a user runs it, and collects everything it prints (for the no-secrets check).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { configSecrets, gatewayRecord, type SecretEntry } from './leaks.js'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')

export interface GatewayProcess {
  url: string
  /** The HTTPS listener's URL, when the config has a `tls` section. */
  tlsUrl?: string
  /** The process id (to send it signals, e.g. SIGHUP). */
  pid: number
  dataDir: string
  /** The dev user's keys (embedded default) or the first configured user's. */
  accessKeyId: string
  secretAccessKey: string
  /** Everything the process printed so far (stdout + stderr). */
  output(): string
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  exited: Promise<number | null>
  stop(): Promise<void>
}

export interface StartOptions {
  /** A config document; written to a 0600 file in the data dir. Without it: the embedded default. */
  config?: Record<string, unknown>
  dataDir?: string
  /** The config file's mode (default 0600; the gateway refuses inline secrets others can read). */
  configMode?: number
  env?: Record<string, string>
  args?: string[]
}

export async function startGateway(options: StartOptions = {}): Promise<GatewayProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 's3veil-test-')))
  const args = [join(REPO_ROOT, 'bin/s3veil.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir]
  if (options.config) {
    const file = join(dataDir, 'config.json')
    await writeFile(file, JSON.stringify(options.config, null, 2), { mode: options.configMode ?? 0o600 })
    if (options.configMode !== undefined) await chmod(file, options.configMode)
    args.push('--config', file)
  }
  args.push(...(options.args ?? []))
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
  let out = ''
  // For the run's secrets-never-printed check (test/helpers/leaks.ts, test/global-setup.ts).
  const record = gatewayRecord(options.config ? 'gateway (config)' : 'gateway (embedded default)')
  const collect = (d: Buffer) => {
    out += d.toString()
    record?.log(d.toString())
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  let url: string
  try {
    url = await waitForListening(child, () => out)
  } finally {
    record?.secrets(await givenSecrets(options, dataDir))
  }
  let accessKeyId: string
  let secretAccessKey: string
  if (options.config) {
    const users = (options.config.users ?? []) as { accessKeys: { id: string; secret: unknown }[] }[]
    const first = users[0]?.accessKeys[0]
    accessKeyId = first?.id ?? ''
    secretAccessKey = typeof first?.secret === 'string' ? first.secret : ''
  } else {
    const dev = JSON.parse(await readFile(join(dataDir, 'dev-user.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string }
    ;({ accessKeyId, secretAccessKey } = dev)
  }
  return {
    url,
    pid: child.pid!,
    tlsUrl: /"tlsUrl":"(https:[^"]+)"[^\n]*"msg":"listening"/.exec(out)?.[1],
    dataDir,
    accessKeyId,
    secretAccessKey,
    output: () => out,
    exited,
    stop: () => stopChild(child),
  }
}

/** The secrets this gateway holds: its config's, or the embedded default's generated ones. */
async function givenSecrets(options: StartOptions, dataDir: string): Promise<SecretEntry[]> {
  if (options.config) return configSecrets(options.config, { ...process.env, ...options.env })
  const entries: SecretEntry[] = []
  const dev = await readFile(join(dataDir, 'dev-user.json'), 'utf8').catch(() => undefined)
  if (dev) entries.push({ what: 'dev secret access key', value: (JSON.parse(dev) as { secretAccessKey: string }).secretAccessKey })
  const key = await readFile(join(dataDir, 'dev-master.key'), 'utf8').catch(() => undefined)
  if (key) entries.push({ what: 'dev master key', value: key.trim() })
  return entries
}

function waitForListening(child: ChildProcess, output: () => string): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 30 s:\n${output()}`)), 30_000)
    const check = () => {
      const match = /"url":"(http[^"]+)"[^\n]*"msg":"listening"|"msg":"listening"[^\n]*"url":"(http[^"]+)"/.exec(output())
      if (match) {
        clearTimeout(timer)
        child.stdout?.off('data', check)
        resolveUrl((match[1] ?? match[2])!)
      }
    }
    child.stdout?.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited with ${code}:\n${output()}`))
    })
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

/** The request records in a gateway's output (pino JSON lines with msg "request"), in order. */
export function requestRecords(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}
