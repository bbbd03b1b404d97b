/**
 * @module conformance/vitest.config
 * The conformance suite's own vitest config (the repo's vitest.config.ts covers only src/ and test/).
 * conformance/run.ts runs it with the target in the environment and picks the reporters.
 */
import { resolve } from 'node:path'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  root: resolve(import.meta.dirname, '..'),
  test: {
    include: ['conformance/**/*.test.ts'],
    // Each file loads its own copy of the support modules (their afterAll removes that file's buckets).
    isolate: true,
    // The cases mostly wait on the endpoint and on client processes: more files at once than cores.
    maxWorkers: 4,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
})
