/**
 * @module conformance/support/runner
 * Runs the conformance suite (vitest on conformance/vitest.config.ts, as a child process) against one
 * target given by endpoint and keys, with the readable report on stdout and summary.json, JUnit XML
 * and vitest's JSON in a report directory. Shared by conformance/run.ts and conformance/ci.ts.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DEFAULT_EXPECTED_FAILURES_FILE, parseExpectedFailures } from './expected.js'
import type { Summary } from './reporter.js'

export const CONFORMANCE_DIR = resolve(import.meta.dirname, '..')
export const REPO_ROOT = resolve(CONFORMANCE_DIR, '..')

export interface SuiteTarget {
  label: string
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region?: string
  caBundle?: string
  bucketPrefix?: string
}

export interface SuiteOptions {
  reportDir: string
  /** Only these areas (top-level describe names). */
  only?: string[]
  /** Extra vitest arguments (file filters). */
  vitestArgs?: string[]
  /** Print every case, not only the failed and expected-failed ones. */
  verbose?: boolean
  expectedFailuresFile?: string
}

export interface SuiteRun {
  exitCode: number
  summary?: Summary
  /** True when every case had its expected outcome and nothing else went wrong. */
  ok: boolean
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

export async function runSuite(t: SuiteTarget, options: SuiteOptions): Promise<SuiteRun> {
  // A broken list is one clear error here, not one per case file in the run.
  const listFile = resolve(options.expectedFailuresFile ?? DEFAULT_EXPECTED_FAILURES_FILE)
  parseExpectedFailures(readFileSync(listFile, 'utf8'), listFile)
  const reportDir = resolve(options.reportDir)
  await mkdir(reportDir, { recursive: true })
  for (const f of ['summary.json', 'junit.xml', 'results.json']) await rm(join(reportDir, f), { force: true })
  const args = [
    join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--config',
    join(CONFORMANCE_DIR, 'vitest.config.ts'),
    `--reporter=${join(CONFORMANCE_DIR, 'support/reporter.ts')}`,
    '--reporter=junit',
    `--outputFile.junit=${join(reportDir, 'junit.xml')}`,
    '--reporter=json',
    `--outputFile.json=${join(reportDir, 'results.json')}`,
  ]
  if (options.only?.length) args.push('-t', `^(${options.only.map(escapeRegExp).join('|')}) `)
  args.push(...(options.vitestArgs ?? []))
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    S3VEIL_CONFORMANCE_ENDPOINT: t.endpoint,
    S3VEIL_CONFORMANCE_ACCESS_KEY: t.accessKeyId,
    S3VEIL_CONFORMANCE_SECRET_KEY: t.secretAccessKey,
    S3VEIL_CONFORMANCE_REGION: t.region ?? 'us-east-1',
    S3VEIL_CONFORMANCE_LABEL: t.label,
    S3VEIL_CONFORMANCE_BUCKET_PREFIX: t.bucketPrefix ?? 's3vc',
    S3VEIL_CONFORMANCE_REPORT_DIR: reportDir,
    S3VEIL_CONFORMANCE_VERBOSE: options.verbose ? '1' : '0',
    S3VEIL_CONFORMANCE_ALL_FILES: options.vitestArgs?.length ? '0' : '1',
    // The SDK's notice that its 2027 releases need Node 22, once per worker process, would bury the report.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
  if (t.caBundle) env.S3VEIL_CONFORMANCE_CA_BUNDLE = resolve(t.caBundle)
  else delete env.S3VEIL_CONFORMANCE_CA_BUNDLE
  env.S3VEIL_CONFORMANCE_EXPECTED_FAILURES = listFile
  const exitCode = await new Promise<number>((done, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code, signal) => done(code ?? (signal ? 128 : 1)))
  })
  const file = join(reportDir, 'summary.json')
  const summary = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Summary) : undefined
  return { exitCode, summary, ok: exitCode === 0 && summary?.ok === true }
}
