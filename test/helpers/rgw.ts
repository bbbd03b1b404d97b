/**
 * @module test/helpers/rgw
 * A real Ceph RADOS Gateway for tests, run by test/fixtures/rgw.sh on 127.0.0.1.
 *
 * - `startRgw()` starts one on free ports (or, when `S3VEIL_TEST_RGW_ENDPOINT` is set, reuses that
 *   one with `S3VEIL_TEST_RGW_ACCESS_KEY` / `_SECRET_KEY` / `_REGION`; its `stop()` then does nothing).
 * - test/global-setup.ts starts ONE for the whole run and `provide`s it as `s3veilRgw`.
 * - Test files call `rgwForTests()` at top level: the run's RGW when global setup provided one, else
 *   one started for the file. When none can be had, it throws under CI (the file FAILS) and otherwise
 *   returns undefined after a loud warning, so the file can `describe.skipIf(!rgw)`.
 */
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { inject } from 'vitest'

import { RGW_SCRIPT, parseRgwOutput, runRgwScript, type RgwConnection } from '../fixtures/rgw-script.js'

export { RGW_SCRIPT, type RgwConnection }

export interface RgwFixture extends RgwConnection {
  stop(): Promise<void>
}

/** What global setup provides: a running RGW, or why there is none. */
export type ProvidedRgw = RgwConnection | { error: string }

declare module 'vitest' {
  export interface ProvidedContext {
    s3veilRgw: ProvidedRgw
  }
}

/** CI=true (or any CI value but false/0) means a missing RGW is a failure, not a skip. */
export function isCi(): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0'
}

function fromEnv(): RgwConnection | undefined {
  const endpoint = process.env.S3VEIL_TEST_RGW_ENDPOINT
  if (!endpoint) return undefined
  const accessKeyId = process.env.S3VEIL_TEST_RGW_ACCESS_KEY
  const secretAccessKey = process.env.S3VEIL_TEST_RGW_SECRET_KEY
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('S3VEIL_TEST_RGW_ENDPOINT needs S3VEIL_TEST_RGW_ACCESS_KEY and S3VEIL_TEST_RGW_SECRET_KEY too')
  }
  return { endpoint, accessKeyId, secretAccessKey, region: process.env.S3VEIL_TEST_RGW_REGION || 'us-east-1' }
}

/** A port nobody listens on right now (from the OS's ephemeral range, away from Ceph's 6800-7300). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : undefined
      server.close(() => (port ? resolvePort(port) : reject(new Error('no port'))))
    })
  })
}

/**
 * Starts an RGW on free ports (~3 s; the first run on a fresh machine also apt-installs Ceph, ~30 s).
 * Two attempts, since a free port can be taken between our probe and the daemons' bind.
 */
export async function startRgw(options: { timeoutMs?: number } = {}): Promise<RgwFixture> {
  const external = fromEnv()
  if (external) return { ...external, stop: async () => {} }
  let lastError: unknown
  for (let attempt = 0; attempt < 2; attempt++) {
    const port = await freePort()
    let monPort = await freePort()
    while (monPort === port) monPort = await freePort()
    const env = { ...process.env, S3VEIL_RGW_MON_PORT: String(monPort) }
    const stopSync = () => {
      try {
        execFileSync('bash', [RGW_SCRIPT, 'stop', String(port)], { env, stdio: 'ignore', timeout: 30_000 })
      } catch {
        // best effort while the process is exiting
      }
    }
    try {
      const stdout = await runRgwScript(['start', String(port)], env, options.timeoutMs ?? 300_000)
      const connection = parseRgwOutput(stdout)
      // The daemons run in their own sessions, so they outlive us unless stopped: also on a crash.
      process.once('exit', stopSync)
      return {
        ...connection,
        stop: async () => {
          process.off('exit', stopSync)
          await runRgwScript(['stop', String(port)], env, 60_000)
        },
      }
    } catch (err) {
      lastError = err
    }
  }
  throw lastError
}

export interface TestRgw extends RgwConnection {
  /** Stops the RGW when this file started its own; a no-op for a shared one. */
  release(): Promise<void>
}

/**
 * For test files (call at top level): the run's shared RGW, else one of the file's own. Throws under
 * CI when there is none; elsewhere warns loudly and returns undefined (skip the RGW tests).
 */
export async function rgwForTests(): Promise<TestRgw | undefined> {
  let provided: ProvidedRgw | undefined
  try {
    provided = inject('s3veilRgw')
  } catch {
    provided = undefined
  }
  if (provided && 'endpoint' in provided) return { ...provided, release: async () => {} }
  let reason: string
  if (provided) {
    reason = provided.error
  } else {
    try {
      const own = await startRgw()
      return { ...own, release: () => own.stop() }
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err)
    }
  }
  if (isCi()) throw new Error(`CI: the Ceph RADOS Gateway fixture is required but did not start:\n${reason}`)
  const line = '!'.repeat(100)
  const warning = 'SKIPPING tests against Ceph RGW: it could not start (under CI=true this fails).'
  console.warn(`\n${line}\n${warning}\n${reason}\n${line}\n`)
  return undefined
}
