/**
 * @module test/global-setup
 * vitest globalSetup: starts ONE Ceph RADOS Gateway for the whole run (test/helpers/rgw.ts) and
 * provides it to test files as `inject('s3veilRgw')` (files use `rgwForTests()`); stops it at the end.
 * Under CI a gateway that cannot start fails the run here; elsewhere the reason is provided instead
 * and the RGW tests skip with a loud warning.
 */
import type { TestProject } from 'vitest/node'
import { isCi, startRgw } from './helpers/rgw.js'

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  try {
    const rgw = await startRgw()
    const { endpoint, accessKeyId, secretAccessKey, region } = rgw
    project.provide('s3veilRgw', { endpoint, accessKeyId, secretAccessKey, region })
    return () => rgw.stop()
  } catch (err) {
    if (isCi()) throw err
    project.provide('s3veilRgw', { error: err instanceof Error ? err.message : String(err) })
    return undefined
  }
}
