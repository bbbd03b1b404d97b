/**
 * @module test/global-setup
 * vitest globalSetup: starts ONE Ceph RADOS Gateway for the whole run (test/helpers/rgw.ts) and
 * provides it to test files as `inject('s3veilRgw')` (files use `rgwForTests()`); stops it at the end.
 * Under CI a gateway that cannot start fails the run here; elsewhere the reason is provided instead
 * and the RGW tests skip with a loud warning.
 *
 * It also makes the run's directory for the secrets-never-printed check (test/helpers/leaks.ts):
 * every gateway the tests start records there its secrets and its output, and the teardown fails
 * the run when any secret appears in any output.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { RUN_DIR_ENV, findLeaks } from './helpers/leaks.js'
import { isCi, startRgw } from './helpers/rgw.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Workers are started after global setup and inherit this environment.
  const ownsRunDir = !process.env[RUN_DIR_ENV]
  if (ownsRunDir) process.env[RUN_DIR_ENV] = mkdtempSync(join(tmpdir(), 's3veil-run-'))
  const runDir = process.env[RUN_DIR_ENV]!
  let stopRgw: (() => Promise<void>) | undefined
  try {
    const rgw = await startRgw()
    const { endpoint, accessKeyId, secretAccessKey, region } = rgw
    project.provide('s3veilRgw', { endpoint, accessKeyId, secretAccessKey, region })
    stopRgw = () => rgw.stop()
  } catch (err) {
    if (isCi()) throw err
    project.provide('s3veilRgw', { error: err instanceof Error ? err.message : String(err) })
  }
  return async () => {
    await stopRgw?.()
    if (ownsRunDir) checkNoSecretsPrinted(runDir)
  }
}

/** Throws (failing the run) when a gateway printed a secret it was given; the report names only the setting. */
function checkNoSecretsPrinted(runDir: string): void {
  const { gateways, secrets, leaks } = findLeaks(runDir)
  if (leaks.length > 0) {
    const lines = leaks.map((l) => `  ${l.what} (${l.prefix}) in ${l.log}`)
    // vitest reports a teardown error but still exits 0 (checked with vitest 4.1): set the code ourselves.
    process.exitCode = 1
    // The directory stays for inspection.
    throw new Error(`SECRETS PRINTED: ${leaks.length} secret(s) appear in gateway output:\n${lines.join('\n')}`)
  }
  console.log(`secrets-never-printed: ${secrets} secret forms checked in the output of ${gateways} gateway(s): none found`)
  rmSync(runDir, { recursive: true, force: true })
}
