/**
 * @module conformance/support/cases
 * How a conformance case is declared: `area` is a group of the report (a vitest describe),
 * `conformanceCase` one named case. Cases listed for the current target in
 * conformance/expected-failures.txt run as expected failures: they must fail (the reason is kept for
 * the report), and one that passes fails the run so the list cannot go stale.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, test } from 'vitest'
import { target } from './target.js'
import { firstLine } from './text.js'

export const EXPECTED_FAILURES_FILE = resolve(import.meta.dirname, '../expected-failures.txt')

export interface ExpectedFailure {
  labelGlob: string
  id: string
  reason: string
  line: number
}

/** What the report reads from a case's `meta`. */
export interface CaseMeta {
  conformanceId?: string
  expectedFailure?: { reason: string; error: string }
}

declare module 'vitest' {
  interface TaskMeta {
    conformanceId?: string
    expectedFailure?: { reason: string; error: string }
  }
}

/** Parses the list: `<target-label-glob> <case-id> <reason…>`, `#` comments, blank lines ignored. */
export function parseExpectedFailures(text: string): ExpectedFailure[] {
  const out: ExpectedFailure[] = []
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    if (!line) return
    const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line)
    if (!m || !m[3]) throw new Error(`${EXPECTED_FAILURES_FILE}:${index + 1}: want "<target-label-glob> <case-id> <reason>"`)
    out.push({ labelGlob: m[1]!, id: m[2]!, reason: m[3].trim(), line: index + 1 })
  })
  return out
}

/** `*` any run of characters, `?` one; everything else literal. */
export function globMatches(glob: string, text: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${re}$`).test(text)
}

let list: ExpectedFailure[] | undefined

function expectedFailures(): ExpectedFailure[] {
  list ??= parseExpectedFailures(readFileSync(process.env.S3VEIL_CONFORMANCE_EXPECTED_FAILURES || EXPECTED_FAILURES_FILE, 'utf8'))
  return list
}

/** The reason `id` is expected to fail on `label`, if it is listed. */
export function expectedFailureOf(id: string, label: string): string | undefined {
  return expectedFailures().find((e) => globMatches(e.id, id) && globMatches(e.labelGlob, label))?.reason
}

/** A group of the report (a vitest describe). */
export function area(name: string, body: () => void): void {
  describe(name, body)
}

const ID = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9_-]*)+$/

/** One named case: a vitest test `${id} ${title}`, an expected failure when listed for this target. */
export function conformanceCase(id: string, title: string, run: () => Promise<void>, timeoutMs = 60_000): void {
  if (!ID.test(id)) throw new Error(`conformance case id "${id}" is not dotted lowercase (<area>.<case>)`)
  const reason = expectedFailureOf(id, target().label)
  test(
    `${id} ${title}`,
    async ({ task }) => {
      task.meta.conformanceId = id
      if (reason === undefined) return run()
      let error: unknown
      try {
        await run()
      } catch (err) {
        error = err ?? new Error('failed')
      }
      if (error === undefined) {
        const file = process.env.S3VEIL_CONFORMANCE_EXPECTED_FAILURES || EXPECTED_FAILURES_FILE
        throw new Error(`expected failure now passes: remove it from the list (${file}: ${id})`)
      }
      task.meta.expectedFailure = { reason, error: firstLine(error) }
    },
    timeoutMs
  )
}
