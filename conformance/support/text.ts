/**
 * @module conformance/support/text
 * Small text helpers shared by the cases and the reporter (free of vitest's runtime).
 */

/** The first non-empty line of an error (its name when it is not a plain Error), at most 300 chars. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? `${err.name === 'Error' ? '' : err.name + ': '}${err.message}` : String(err)
  return text.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? ''
}
