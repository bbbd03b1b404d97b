/**
 * @module conformance/support/cases
 * How a conformance case is declared: `area` is a group of the report (a vitest describe),
 * `conformanceCase` one named case. Cases listed for the current target in
 * conformance/expected-failures.txt run as expected failures: they must fail (the reason is kept for
 * the report), and one that passes fails the run so the list cannot go stale.
 */
import { describe, test } from 'vitest'
import { expectedFailuresFile, globMatches, loadExpectedFailures, type ExpectedFailure } from './expected.js'
import { target } from './target.js'
import { firstLine } from './text.js'

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

let list: ExpectedFailure[] | undefined

/** The reason `id` is expected to fail on `label`, if it is listed. */
export function expectedFailureOf(id: string, label: string): string | undefined {
  list ??= loadExpectedFailures()
  return list.find((e) => globMatches(e.id, id) && globMatches(e.labelGlob, label))?.reason
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
        throw new Error(`expected failure now passes: remove it from the list (${expectedFailuresFile()}: ${id})`)
      }
      task.meta.expectedFailure = { reason, error: firstLine(error) }
    },
    timeoutMs
  )
}
