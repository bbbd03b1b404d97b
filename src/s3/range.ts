/**
 * @module s3/range
 * Range header parsing and resolution as S3 does it: one `bytes=` range; malformed, inverted or
 * multi-range headers are ignored (the whole object is returned); a range starting at or past the
 * end is 416 InvalidRange with `Content-Range: bytes *\/size`; an end past the end is clamped.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Range)
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2
 */
import type { ByteRange, RangeSpec } from '../backend/types.js'
import { S3Error } from './errors.js'

const RANGE = /^bytes=(\d*)-(\d*)$/

/** Parses a Range header value; undefined when absent or to be ignored. */
export function parseRangeHeader(value: string | undefined | null): RangeSpec | undefined {
  if (!value) return undefined
  const match = RANGE.exec(value.trim())
  if (!match) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') return { suffix: Number(last) }
  const start = Number(first)
  if (last === '') return { start }
  const end = Number(last)
  if (end < start) return undefined
  return { start, end }
}

/** Resolves a range against an object size, or throws InvalidRange (416) when unsatisfiable. */
export function resolveRange(spec: RangeSpec, size: number): ByteRange {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || size === 0) throw invalidRange(size)
    return { start: Math.max(0, size - spec.suffix), end: size - 1 }
  }
  if (spec.start >= size) throw invalidRange(size)
  return { start: spec.start, end: Math.min(spec.end ?? size - 1, size - 1) }
}

export function invalidRange(size: number): S3Error {
  return new S3Error('InvalidRange', undefined, {
    fields: { ActualObjectSize: size },
    headers: { 'content-range': `bytes */${size}` },
  })
}

export function contentRangeHeader(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`
}
