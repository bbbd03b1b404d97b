/**
 * Starts the gateway as a real process (`bin/s3veil.js serve`) on 127.0.0.1 with an ephemeral
 * port, the way a user runs it, and collects everything it prints (for the no-secrets check).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')

export interface GatewayProcess {
  url: string
  dataDir: string
  /** The dev user's keys (embedded default) or the first configured user's. */
  accessKeyId: string
  secretAccessKey: string
  /** Everything the process printed so far (stdout + stderr). */
  output(): string
  stop(): Promise<void>
}

export interface StartOptions {
  /** A config document; written to a 0600 file in the data dir. Without it: the embedded default. */
  config?: Record<string, unknown>
  dataDir?: string
  env?: Record<string, string>
  args?: string[]
}

export async function startGateway(options: StartOptions = {}): Promise<GatewayProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 's3veil-test-')))
  const args = [join(REPO_ROOT, 'bin/s3veil.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir]
  if (options.config) {
    const file = join(dataDir, 'config.json')
    await writeFile(file, JSON.stringify(options.config, null, 2), { mode: 0o600 })
    args.push('--config', file)
  }
  args.push(...(options.args ?? []))
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const url = await waitForListening(child, () => out)
  let accessKeyId: string
  let secretAccessKey: string
  if (options.config) {
    const users = options.config.users as { accessKeys: { id: string; secret: string }[] }[]
    accessKeyId = users[0]!.accessKeys[0]!.id
    secretAccessKey = users[0]!.accessKeys[0]!.secret
  } else {
    const dev = JSON.parse(await readFile(join(dataDir, 'dev-user.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string }
    ;({ accessKeyId, secretAccessKey } = dev)
  }
  return {
    url,
    dataDir,
    accessKeyId,
    secretAccessKey,
    output: () => out,
    stop: () => stopChild(child),
  }
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
