/**
 * The Worker bundle `wrangler deploy` would upload (`npm run worker:build`, i.e. --dry-run --outdir):
 * it builds without nodejs_compat, and the only Node module it still names is explained.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/gateway.js'

/** Node built-ins a bundle could name, with or without the node: prefix. */
const BUILTIN = /^(node:.*|assert|async_hooks|buffer|child_process|crypto|dns|events|fs|http|http2|https|net|os|path|process|stream|string_decoder|timers|tls|tty|url|util|worker_threads|zlib)(\/.*)?$/

/**
 * Runs wrangler in its own process group, so a timeout can stop it and anything it started (workerd
 * outlives a killed wrangler otherwise). No login, no telemetry.
 */
function wrangler(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(join(REPO_ROOT, 'node_modules/.bin/wrangler'), args, {
      cwd: REPO_ROOT,
      detached: true,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolveRun({ code, output })
    })
  })
}

describe('the Worker bundle (wrangler deploy --dry-run)', () => {
  let outdir: string

  afterAll(async () => {
    if (outdir) await rm(outdir, { recursive: true, force: true })
  })

  it('builds without nodejs_compat and names no Node module but sax\'s guarded require("stream")', async () => {
    outdir = await mkdtemp(join(tmpdir(), 's3veil-worker-bundle-'))
    const run = await wrangler(['deploy', '--dry-run', '--outdir', outdir])
    expect(run.code, run.output).toBe(0)
    expect(run.output).toContain('--dry-run: exiting now.')
    const toml = await readFile(join(REPO_ROOT, 'wrangler.toml'), 'utf8')
    expect(toml).not.toMatch(/^\s*compatibility_flags\s*=.*nodejs_compat/m)
    const bundle = await readFile(join(outdir, 'worker.js'), 'utf8')
    const named = new Set<string>()
    for (const m of bundle.matchAll(/require\(\s*["']([^"']+)["']\s*\)|\bfrom\s*["']([^"'./][^"']*)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
      const name = m[1] ?? m[2] ?? m[3]!
      if (BUILTIN.test(name)) named.add(name)
    }
    // sax (xml2js's parser) wraps `require('stream')` in try/catch and runs without it.
    expect([...named]).toEqual(['stream'])
    expect(bundle).toMatch(/try\s*\{\s*Stream\s*=\s*__require\(\s*"stream"\s*\)\.Stream/)
    // The SDK's portable XML parser, not its DOMParser variant (workerd has no DOMParser).
    expect(bundle).not.toContain('new DOMParser')
  })
})
