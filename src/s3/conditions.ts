/**
 * @module s3/conditions
 * Evaluation of If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since for GET and
 * HEAD, in the precedence S3 documents: If-Match wins over If-Unmodified-Since, If-None-Match
 * over If-Modified-Since. A failed If-Match / If-Unmodified-Since is 412; a matching
 * If-None-Match / unmodified If-Modified-Since is 304.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2
 */
import type { Conditions } from '../backend/types.js'
import { S3Error } from './errors.js'

/** Compares entity tags ignoring quotes and weak prefixes; `*` matches any existing object. */
export function etagMatches(header: string, etag: string): boolean {
  const bare = normalizeEtag(etag)
  return header.split(',').some((candidate) => {
    const c = candidate.trim()
    return c === '*' || normalizeEtag(c) === bare
  })
}

export function normalizeEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1')
}

/** Throws PreconditionFailed (412) or NotModified (304) when the conditions do not hold. */
export function checkReadConditions(conditions: Conditions | undefined, etag: string, lastModified: Date): void {
  if (!conditions) return
  const modified = Math.floor(lastModified.getTime() / 1000)
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000)
  if (conditions.ifMatch !== undefined) {
    if (!etagMatches(conditions.ifMatch, etag)) throw new S3Error('PreconditionFailed', undefined, { fields: { Condition: 'If-Match' } })
  } else if (conditions.ifUnmodifiedSince && modified > seconds(conditions.ifUnmodifiedSince)) {
    throw new S3Error('PreconditionFailed', undefined, { fields: { Condition: 'If-Unmodified-Since' } })
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (etagMatches(conditions.ifNoneMatch, etag)) throw notModified(etag, lastModified)
  } else if (conditions.ifModifiedSince && modified <= seconds(conditions.ifModifiedSince)) {
    throw notModified(etag, lastModified)
  }
}

/**
 * Checks conditional-write headers against the current object (undefined when absent):
 * `If-None-Match: *` fails when the key exists; `If-Match` fails when it differs, and is 404
 * NoSuchKey when the key does not exist.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
export function checkWriteConditions(
  conditions: Pick<Conditions, 'ifMatch' | 'ifNoneMatch'> | undefined,
  current: { etag: string } | undefined
): void {
  if (!conditions) return
  if (conditions.ifNoneMatch !== undefined && current && etagMatches(conditions.ifNoneMatch, current.etag)) {
    throw new S3Error('PreconditionFailed', undefined, { fields: { Condition: 'If-None-Match' } })
  }
  if (conditions.ifMatch !== undefined) {
    if (!current) throw new S3Error('NoSuchKey')
    if (!etagMatches(conditions.ifMatch, current.etag)) {
      throw new S3Error('PreconditionFailed', undefined, { fields: { Condition: 'If-Match' } })
    }
  }
}

function notModified(etag: string, lastModified: Date): S3Error {
  return new S3Error('NotModified', undefined, {
    headers: { etag, 'last-modified': lastModified.toUTCString() },
  })
}

function httpDate(value: string | null): Date | undefined {
  if (value === null) return undefined
  const time = Date.parse(value)
  return Number.isNaN(time) ? undefined : new Date(time)
}

/**
 * Reads If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since, or their copy-source
 * forms with `prefix` 'x-amz-copy-source-'. Unparseable dates are ignored, as HTTP says.
 */
export function conditionsFromHeaders(headers: Headers, prefix = ''): Conditions | undefined {
  const conditions: Conditions = {
    ifMatch: headers.get(`${prefix}if-match`) ?? undefined,
    ifNoneMatch: headers.get(`${prefix}if-none-match`) ?? undefined,
    ifModifiedSince: httpDate(headers.get(`${prefix}if-modified-since`)),
    ifUnmodifiedSince: httpDate(headers.get(`${prefix}if-unmodified-since`)),
  }
  return Object.values(conditions).some((v) => v !== undefined) ? conditions : undefined
}
