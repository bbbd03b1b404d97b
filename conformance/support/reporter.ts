/**
 * @module conformance/support/reporter
 * The suite's readable report: cases grouped by area (the top-level describe), counts of passed,
 * failed and expected-failed cases per area, the reason for each failure on one line. It also writes
 * the same as summary.json in the report directory, which conformance/ci.ts folds into REPORT.md.
 * (JUnit XML and vitest's JSON come from vitest's built-in reporters alongside this one.)
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Reporter, SerializedError, TestCase, TestModule } from 'vitest/node'
import { expectedFailuresFile, loadExpectedFailures, staleEntries } from './expected.js'
import { firstLine } from './text.js'

export type CaseState = 'pass' | 'fail' | 'expected-fail' | 'skip'

export interface CaseResult {
  id: string
  name: string
  state: CaseState
  /** Why it failed (fail) or why it is expected to fail (expected-fail), one line. */
  reason?: string
  durationMs?: number
}

export interface AreaResult {
  pass: number
  fail: number
  expectedFail: number
  skip: number
  cases: CaseResult[]
}

export interface Summary {
  label: string
  endpoint: string
  finishedAt: string
  durationMs: number
  areas: Record<string, AreaResult>
  /** Errors outside any case: a file that failed to load, a failing afterAll, unhandled errors. */
  errors: string[]
  ok: boolean
}

function areaOf(test: TestCase): string {
  let node: TestCase['parent'] = test.parent
  let top: string | undefined
  while (node.type === 'suite') {
    top = node.name
    node = node.parent
  }
  return top ?? node.moduleId.replace(/^.*\/conformance\//, '')
}

function errorLine(errors: ReadonlyArray<SerializedError> | undefined): string {
  const e = errors?.[0]
  if (!e) return 'failed'
  const text = `${e.name && e.name !== 'Error' && e.name !== 'AssertionError' ? e.name + ': ' : ''}${e.message ?? ''}`
  return firstLine(text) || 'failed'
}

export function caseResult(test: TestCase): CaseResult {
  const result = test.result()
  const meta = test.meta()
  const id = meta.conformanceId ?? test.name.split(' ')[0]!
  const durationMs = test.diagnostic()?.duration
  if (result.state === 'failed') return { id, name: test.name, state: 'fail', reason: errorLine(result.errors), durationMs }
  if (result.state === 'passed' && meta.expectedFailure) {
    const { reason, error } = meta.expectedFailure
    return { id, name: test.name, state: 'expected-fail', reason: `${reason} [got: ${error}]`, durationMs }
  }
  if (result.state === 'passed') return { id, name: test.name, state: 'pass', durationMs }
  return { id, name: test.name, state: 'skip', durationMs }
}

export function summarize(
  modules: ReadonlyArray<TestModule>,
  unhandled: ReadonlyArray<SerializedError>
): Pick<Summary, 'areas' | 'errors' | 'ok'> {
  const areas: Record<string, AreaResult> = {}
  const errors: string[] = []
  for (const module of modules) {
    const file = module.moduleId.replace(/^.*\/conformance\//, 'conformance/')
    for (const e of module.errors()) errors.push(`${file}: ${errorLine([e])}`)
    for (const suite of module.children.allSuites()) {
      for (const e of suite.errors()) errors.push(`${file} (${suite.name}): ${errorLine([e])}`)
    }
    for (const test of module.children.allTests()) {
      const r = caseResult(test)
      const area = (areas[areaOf(test)] ??= { pass: 0, fail: 0, expectedFail: 0, skip: 0, cases: [] })
      area.cases.push(r)
      if (r.state === 'pass') area.pass++
      else if (r.state === 'fail') area.fail++
      else if (r.state === 'expected-fail') area.expectedFail++
      else area.skip++
    }
  }
  for (const e of unhandled) errors.push(`unhandled: ${errorLine([e])}`)
  // Only a run that loaded every case file can tell that an entry matches no case.
  if (process.env.S3VEIL_CONFORMANCE_ALL_FILES === '1') {
    const ids = Object.values(areas).flatMap((a) => a.cases.map((c) => c.id))
    const file = expectedFailuresFile()
    for (const e of staleEntries(loadExpectedFailures(), ids)) {
      errors.push(`${file}:${e.line}: "${e.id}" matches no case (a typo, or a case renamed or removed): fix or remove the line`)
    }
  }
  const failed = Object.values(areas).some((a) => a.fail > 0)
  return { areas, errors, ok: !failed && errors.length === 0 }
}

const MARK: Record<CaseState, string> = { pass: 'ok  ', fail: 'FAIL', 'expected-fail': 'xf  ', skip: 'skip' }

export function formatSummary(summary: Summary, verbose: boolean): string {
  const lines: string[] = []
  lines.push('', `S3 conformance: ${summary.label} (${summary.endpoint})`, '')
  const names = Object.keys(summary.areas).sort()
  const width = Math.max(10, ...names.map((n) => n.length))
  const totals = { pass: 0, fail: 0, expectedFail: 0, skip: 0 }
  for (const name of names) {
    const a = summary.areas[name]!
    // Areas filtered out by --only (every case skipped) are left out of the readable report.
    if (!verbose && a.skip === a.cases.length) continue
    totals.pass += a.pass
    totals.fail += a.fail
    totals.expectedFail += a.expectedFail
    totals.skip += a.skip
    const counts = `${a.pass} passed, ${a.fail} failed, ${a.expectedFail} expected-fail${a.skip ? `, ${a.skip} skipped` : ''}`
    lines.push(`${a.fail ? 'FAIL' : 'ok  '} ${name.padEnd(width)}  ${counts}`)
    for (const c of a.cases) {
      if (!verbose && (c.state === 'pass' || c.state === 'skip')) continue
      lines.push(`       ${MARK[c.state]} ${c.name}${c.reason ? `\n              ${c.reason}` : ''}`)
    }
  }
  for (const e of summary.errors) lines.push(`ERROR ${e}`)
  lines.push(
    '',
    `total: ${totals.pass} passed, ${totals.fail} failed, ${totals.expectedFail} expected-fail` +
      `${totals.skip ? `, ${totals.skip} skipped` : ''}${summary.errors.length ? `, ${summary.errors.length} errors` : ''}` +
      ` in ${(summary.durationMs / 1000).toFixed(1)} s: ${summary.ok ? 'OK' : 'UNEXPECTED RESULTS'}`,
    ''
  )
  return lines.join('\n')
}

/** vitest reporter: prints progress per file and the summary, writes summary.json. */
export default class ConformanceReporter implements Reporter {
  private started = Date.now()

  onTestRunStart(): void {
    this.started = Date.now()
  }

  onTestModuleEnd(module: TestModule): void {
    let pass = 0
    let fail = 0
    for (const test of module.children.allTests()) {
      const state = test.result().state
      if (state === 'failed') fail++
      else if (state === 'passed') pass++
    }
    const file = module.moduleId.replace(/^.*\/conformance\//, 'conformance/')
    if (pass + fail === 0 && module.errors().length === 0) return
    process.stdout.write(`  ${fail || module.errors().length ? 'FAIL' : 'done'} ${file} (${pass} ok, ${fail} failed)\n`)
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): void {
    const summary: Summary = {
      label: process.env.S3VEIL_CONFORMANCE_LABEL || 'custom',
      endpoint: process.env.S3VEIL_CONFORMANCE_ENDPOINT || '',
      finishedAt: new Date().toISOString(),
      durationMs: Date.now() - this.started,
      ...summarize(modules, unhandled),
    }
    process.stdout.write(formatSummary(summary, process.env.S3VEIL_CONFORMANCE_VERBOSE === '1'))
    const dir = process.env.S3VEIL_CONFORMANCE_REPORT_DIR
    if (dir) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
      process.stdout.write(`SUMMARY report written to ${join(dir, 'summary.json')}\n`)
    }
  }
}
