/**
 * @module backend/listing
 * Pure ListObjects (v1 and v2) paging over a key-sorted array, shared by every backend that keeps
 * its own keys (the filesystem store, an in-memory store). No I/O and no Node APIs.
 *
 * Semantics, as S3 documents and behaves:
 * - Keys are ordered by their UTF-8 bytes. JS `<` compares UTF-16 code units, which puts
 *   U+10000.. (surrogate pairs) before U+E000..U+FFFF; UTF-8 byte order equals code point order,
 *   so `compareKeys` compares code points.
 * - Only keys starting with `prefix` are considered. With a `delimiter`, a key containing it after
 *   the prefix is rolled up into the common prefix ending at its first such delimiter; each common
 *   prefix is returned once and counts once toward `maxKeys`.
 * - Listing resumes strictly after a position: the continuation token, else `startAfter`, else
 *   `marker`. An item (key or common prefix) is returned only when it sorts after that position,
 *   so resuming after a common prefix skips every key under it (keys under it sort after it, but
 *   they roll up into it, and it does not sort after itself).
 * - `maxKeys` 0 gives an empty, untruncated page; values above 1000 are capped at 1000, as S3 does.
 * - `isTruncated` only when another item would follow; then `nextMarker` is the last item returned
 *   (key or common prefix) and `nextContinuationToken` encodes it. Both are set, since a backend
 *   cannot tell a first v1 page from a first v2 page; the handler picks the one its API uses.
 */
import type { ListObjectsInput, ListObjectsOutput } from './types.js'
import { S3Error } from '../s3/errors.js'

export const MAX_LIST_KEYS = 1000

export type ListWindow = Omit<ListObjectsInput, 'bucket'>

export interface ListPage<T> extends Omit<ListObjectsOutput, 'objects'> {
  objects: T[]
}

/** Maps a UTF-16 code unit so that code-unit order becomes code-point order (surrogates last). */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800
}

/** Orders keys as S3 does: by UTF-8 bytes (equivalently, by code points). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

/** Sorts in place by `compareKeys` and returns the array. */
export function sortByKey<T extends { key: string }>(items: T[]): T[] {
  return items.sort((a, b) => compareKeys(a.key, b.key))
}

/** Tags of the token kinds, so a token from one kind (or made up) is never read as another. */
const POSITION_TOKEN = 'k1:'
const UPSTREAM_TOKEN = 'u1:'

function invalidContinuationToken(token: string): S3Error {
  return new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    fields: { ArgumentName: 'continuation-token', ArgumentValue: token },
  })
}

/** base64url of `tag` + `text`: opaque to clients. */
function encodeToken(tag: string, text: string): string {
  const bytes = new TextEncoder().encode(tag + text)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Reverses `encodeToken`; InvalidArgument for anything we did not issue with that tag. */
function decodeToken(tag: string, token: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(token)) throw invalidContinuationToken(token)
  let text: string
  try {
    const binary = atob(token.replace(/-/g, '+').replace(/_/g, '/'))
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw invalidContinuationToken(token)
  }
  if (!text.startsWith(tag)) throw invalidContinuationToken(token)
  return text.slice(tag.length)
}

/** Opaque v2 continuation token of a listing we page ourselves: the last returned item. */
export function encodeContinuationToken(after: string): string {
  return encodeToken(POSITION_TOKEN, after)
}

/** Decodes `encodeContinuationToken`; InvalidArgument for anything we did not issue. */
export function decodeContinuationToken(token: string): string {
  return decodeToken(POSITION_TOKEN, token)
}

/**
 * An S3 upstream's own continuation token, wrapped: some stores (Ceph RGW) read any string as a
 * position, and S3 answers InvalidArgument to a token it never issued, so the gateway does too.
 */
export function wrapUpstreamToken(upstreamToken: string): string {
  return encodeToken(UPSTREAM_TOKEN, upstreamToken)
}

/** Reverses `wrapUpstreamToken`; InvalidArgument for anything we did not issue. */
export function unwrapUpstreamToken(token: string): string {
  return decodeToken(UPSTREAM_TOKEN, token)
}

/** The position to resume after: token, else start-after, else marker (undefined: from the start). */
export function resumeAfter(
  window: Pick<ListWindow, 'marker' | 'startAfter' | 'continuationToken'>
): string | undefined {
  if (window.continuationToken !== undefined) return decodeContinuationToken(window.continuationToken)
  if (window.startAfter) return window.startAfter
  if (window.marker) return window.marker
  return undefined
}

/** First index whose key is not below `key` (or above it when `strict`). */
function lowerBound<T extends { key: string }>(sorted: readonly T[], key: string, strict: boolean): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const c = compareKeys(sorted[mid]!.key, key)
    if (c < 0 || (strict && c === 0)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * One page of a listing over `sorted` (ascending by `compareKeys`, unique keys).
 * Cost: O(log n) to find the start plus O(items scanned), where keys rolled into a common prefix
 * are scanned but not returned.
 */
export function listPage<T extends { key: string }>(sorted: readonly T[], window: ListWindow): ListPage<T> {
  if (!Number.isInteger(window.maxKeys) || window.maxKeys < 0) {
    throw new S3Error('InvalidArgument', 'Argument maxKeys must be an integer between 0 and 2147483647', {
      fields: { ArgumentName: 'maxKeys', ArgumentValue: String(window.maxKeys) },
    })
  }
  const maxKeys = Math.min(window.maxKeys, MAX_LIST_KEYS)
  const after = resumeAfter(window)
  const page: ListPage<T> = { objects: [], commonPrefixes: [], isTruncated: false }
  if (maxKeys === 0) return page

  const prefix = window.prefix ?? ''
  const delimiter = window.delimiter || undefined
  let i = lowerBound(sorted, prefix, false)
  if (after !== undefined) i = Math.max(i, lowerBound(sorted, after, true))

  let count = 0
  let last: string | undefined
  let lastPrefix: string | undefined
  for (; i < sorted.length; i++) {
    const item = sorted[i]!
    // Keys sharing a prefix are contiguous in sorted order, so the first miss ends the listing.
    if (!item.key.startsWith(prefix)) break
    let common: string | undefined
    if (delimiter !== undefined) {
      const at = item.key.indexOf(delimiter, prefix.length)
      if (at >= 0) common = item.key.slice(0, at + delimiter.length)
    }
    if (common !== undefined) {
      if (common === lastPrefix) continue
      // A common prefix at or before the resume position was returned on an earlier page.
      if (after !== undefined && compareKeys(common, after) <= 0) continue
    }
    if (count === maxKeys) {
      page.isTruncated = true
      page.nextMarker = last
      page.nextContinuationToken = encodeContinuationToken(last!)
      return page
    }
    if (common !== undefined) {
      page.commonPrefixes.push(common)
      lastPrefix = common
      last = common
    } else {
      page.objects.push(item)
      last = item.key
    }
    count++
  }
  return page
}
