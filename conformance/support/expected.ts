/**
 * @module conformance/support/expected
 * The expected-failures list (conformance/expected-failures.txt, or the file --expected-failures
 * names): `<target-label-glob> <case-id-glob> <reason…>` per line. Read by the cases (which of them
 * must fail on this target) and by the reporter (entries that match no case at all are stale).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

export const DEFAULT_EXPECTED_FAILURES_FILE = resolve(import.meta.dirname, '../expected-failures.txt')

export interface ExpectedFailure {
  labelGlob: string
  id: string
  reason: string
  line: number
}

/** The list in force: the one run.ts passes in the environment, else the repository's. */
export function expectedFailuresFile(): string {
  return process.env.S3VEIL_CONFORMANCE_EXPECTED_FAILURES || DEFAULT_EXPECTED_FAILURES_FILE
}

/** Parses the list: `<target-label-glob> <case-id> <reason…>`, `#` comments, blank lines ignored. */
export function parseExpectedFailures(text: string, file: string): ExpectedFailure[] {
  const out: ExpectedFailure[] = []
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    if (!line) return
    const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line)
    if (!m || !m[3]) throw new Error(`${file}:${index + 1}: want "<target-label-glob> <case-id> <reason>"`)
    out.push({ labelGlob: m[1]!, id: m[2]!, reason: m[3].trim(), line: index + 1 })
  })
  return out
}

export function loadExpectedFailures(): ExpectedFailure[] {
  const file = expectedFailuresFile()
  return parseExpectedFailures(readFileSync(file, 'utf8'), file)
}

/** `*` any run of characters, `?` one; everything else literal. */
export function globMatches(glob: string, text: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${re}$`).test(text)
}

/** Entries whose case id matches none of `caseIds`: a typo, or a case that was renamed or removed. */
export function staleEntries(list: ExpectedFailure[], caseIds: Iterable<string>): ExpectedFailure[] {
  const ids = [...caseIds]
  return list.filter((e) => !ids.some((id) => globMatches(e.id, id)))
}
