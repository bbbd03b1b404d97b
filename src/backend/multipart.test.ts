/** @module backend/multipart.test — S3's multipart rules as pure functions. */
import { describe, expect, it } from 'vitest'
import { S3Error } from '../s3/errors.js'
import { MIN_PART_SIZE, compareUploads, pageParts, pageUploads, partRange, resolveCompletedParts } from './multipart.js'
import type { MultipartUploadInfo } from './types.js'

const MiB = 1024 * 1024

function s3Error(fn: () => unknown): S3Error {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error)
    return err as S3Error
  }
  throw new Error('expected an S3Error')
}

describe('resolveCompletedParts', () => {
  const uploaded = new Map([
    [1, { etag: 'e1', size: 5 * MiB }],
    [2, { etag: 'e2', size: 5 * MiB + 1 }],
    [3, { etag: 'e3', size: 1 }],
    [5, { etag: 'e5', size: 2 * MiB }],
  ])
  const find = (n: number, etag: string) => {
    const part = uploaded.get(n)
    return part && part.etag === etag ? { n, ...part } : undefined
  }

  it('returns the named parts in order, accepting quoted and unquoted ETags and gaps', () => {
    const parts = resolveCompletedParts('u', [
      { partNumber: 1, etag: '"e1"' },
      { partNumber: 2, etag: 'e2' },
      { partNumber: 5, etag: ' "e5" ' },
    ], find)
    expect(parts.map((p) => p.n)).toEqual([1, 2, 5])
  })

  it('needs at least one part (MalformedXML)', () => {
    expect(s3Error(() => resolveCompletedParts('u', [], find)).code).toBe('MalformedXML')
  })

  it('BH-34: parts out of order or repeated are InvalidPartOrder, checked before the parts exist', () => {
    expect(s3Error(() => resolveCompletedParts('u', [{ partNumber: 2, etag: 'e2' }, { partNumber: 1, etag: 'e1' }], find)).code).toBe(
      'InvalidPartOrder'
    )
    expect(s3Error(() => resolveCompletedParts('u', [{ partNumber: 1, etag: 'e1' }, { partNumber: 1, etag: 'e1' }], find)).code).toBe(
      'InvalidPartOrder'
    )
    const err = s3Error(() => resolveCompletedParts('u', [{ partNumber: 9, etag: 'x' }, { partNumber: 4, etag: 'y' }], find))
    expect(err.code).toBe('InvalidPartOrder')
  })

  it('a missing part, a wrong ETag or an impossible number is InvalidPart, naming the part', () => {
    const missing = s3Error(() => resolveCompletedParts('u', [{ partNumber: 4, etag: 'e4' }], find))
    expect(missing.code).toBe('InvalidPart')
    expect(missing.fields).toMatchObject({ UploadId: 'u', PartNumber: 4, ETag: 'e4' })
    expect(s3Error(() => resolveCompletedParts('u', [{ partNumber: 1, etag: '"e2"' }], find)).code).toBe('InvalidPart')
    expect(s3Error(() => resolveCompletedParts('u', [{ partNumber: 0, etag: 'x' }], find)).code).toBe('InvalidPart')
    expect(s3Error(() => resolveCompletedParts('u', [{ partNumber: 10001, etag: 'x' }], find)).code).toBe('InvalidPart')
  })

  it('BH-36: a non-last part under 5 MiB is EntityTooSmall with S3\'s fields; a small last or single part is fine', () => {
    const err = s3Error(() =>
      resolveCompletedParts('u', [{ partNumber: 3, etag: 'e3' }, { partNumber: 5, etag: 'e5' }], find)
    )
    expect(err.code).toBe('EntityTooSmall')
    expect(err.fields).toEqual({ ProposedSize: 1, MinSizeAllowed: MIN_PART_SIZE, PartNumber: 3, ETag: 'e3' })
    expect(resolveCompletedParts('u', [{ partNumber: 3, etag: 'e3' }], find)).toHaveLength(1)
    expect(resolveCompletedParts('u', [{ partNumber: 1, etag: 'e1' }, { partNumber: 3, etag: 'e3' }], find)).toHaveLength(2)
  })

  it('InvalidPart wins over EntityTooSmall (all parts are looked up first)', () => {
    const err = s3Error(() => resolveCompletedParts('u', [{ partNumber: 3, etag: 'e3' }, { partNumber: 4, etag: 'x' }], find))
    expect(err.code).toBe('InvalidPart')
  })
})

describe('partRange (GetObject/HeadObject partNumber)', () => {
  it('counts parts by position and says how many there are', () => {
    const sizes = [5 * MiB, 5 * MiB + 1, 3]
    expect(partRange(1, 10 * MiB + 4, sizes)).toEqual({ range: { start: 0, end: 5 * MiB - 1 }, partsCount: 3 })
    expect(partRange(2, 10 * MiB + 4, sizes)).toEqual({ range: { start: 5 * MiB, end: 10 * MiB }, partsCount: 3 })
    expect(partRange(3, 10 * MiB + 4, sizes)).toEqual({ range: { start: 10 * MiB + 1, end: 10 * MiB + 3 }, partsCount: 3 })
  })

  it('an object not uploaded in parts is its own part 1, with no parts count', () => {
    expect(partRange(1, 10)).toEqual({ range: { start: 0, end: 9 } })
    expect(partRange(1, 0)).toEqual({ range: { start: 0, end: -1 } })
  })

  it('an empty part is an empty range', () => {
    expect(partRange(2, 5 * MiB, [5 * MiB, 0])).toEqual({ range: { start: 5 * MiB, end: 5 * MiB - 1 }, partsCount: 2 })
  })

  it('past the last part is 416 InvalidPartNumber with the requested and actual counts', () => {
    const err = s3Error(() => partRange(4, 10, [5, 5, 0]))
    expect(err).toMatchObject({ code: 'InvalidPartNumber', status: 416, fields: { PartNumberRequested: 4, ActualPartCount: 3 } })
    expect(s3Error(() => partRange(2, 10)).fields).toEqual({ PartNumberRequested: 2, ActualPartCount: 1 })
  })
})

describe('pageParts', () => {
  const parts = [1, 2, 3, 7, 9].map((partNumber) => ({ partNumber }))

  it('pages after the marker with the last number as the next marker', () => {
    expect(pageParts(parts, 2)).toEqual({ parts: [{ partNumber: 1 }, { partNumber: 2 }], isTruncated: true, nextPartNumberMarker: 2 })
    expect(pageParts(parts, 2, 2)).toEqual({ parts: [{ partNumber: 3 }, { partNumber: 7 }], isTruncated: true, nextPartNumberMarker: 7 })
    expect(pageParts(parts, 2, 7)).toEqual({ parts: [{ partNumber: 9 }], isTruncated: false })
    expect(pageParts(parts, 1000, 9)).toEqual({ parts: [], isTruncated: false })
  })

  it('caps a page at 1000', () => {
    const many = Array.from({ length: 1500 }, (_, i) => ({ partNumber: i + 1 }))
    const page = pageParts(many, 5000)
    expect(page.parts).toHaveLength(1000)
    expect(page.nextPartNumberMarker).toBe(1000)
  })
})

describe('pageUploads', () => {
  const at = new Date(0)
  const uploads: MultipartUploadInfo[] = [
    { key: 'b', uploadId: '2' },
    { key: 'a/x', uploadId: '1' },
    { key: 'a', uploadId: '9' },
    { key: 'a', uploadId: '3' },
    { key: 'a/y', uploadId: '4' },
    { key: 'c', uploadId: '5' },
  ]
    .map((u) => ({ ...u, initiated: at }))
    .sort(compareUploads)
  const ids = (page: { uploads: MultipartUploadInfo[] }) => page.uploads.map((u) => `${u.key}:${u.uploadId}`)

  it('sorts by key, then upload id', () => {
    expect(ids({ uploads })).toEqual(['a:3', 'a:9', 'a/x:1', 'a/y:4', 'b:2', 'c:5'])
  })

  it('pages with key and upload-id markers', () => {
    const first = pageUploads(uploads, { maxUploads: 2 })
    expect(ids(first)).toEqual(['a:3', 'a:9'])
    expect(first).toMatchObject({ isTruncated: true, nextKeyMarker: 'a', nextUploadIdMarker: '9' })
    const second = pageUploads(uploads, { maxUploads: 2, keyMarker: 'a', uploadIdMarker: '9' })
    expect(ids(second)).toEqual(['a/x:1', 'a/y:4'])
    expect(ids(pageUploads(uploads, { maxUploads: 10, keyMarker: 'a', uploadIdMarker: '3' }))[0]).toBe('a:9')
    // Without an upload-id marker, every upload of the marker key is skipped.
    expect(ids(pageUploads(uploads, { maxUploads: 10, keyMarker: 'a' }))[0]).toBe('a/x:1')
    // An upload-id marker without a key marker is ignored, as S3 does.
    expect(ids(pageUploads(uploads, { maxUploads: 1, uploadIdMarker: 'zzz' }))).toEqual(['a:3'])
    expect(pageUploads(uploads, { maxUploads: 10, keyMarker: 'b' })).toMatchObject({ isTruncated: false })
  })

  it('filters by prefix and rolls keys up at the delimiter', () => {
    expect(ids(pageUploads(uploads, { maxUploads: 10, prefix: 'a/' }))).toEqual(['a/x:1', 'a/y:4'])
    const rolled = pageUploads(uploads, { maxUploads: 10, delimiter: '/' })
    expect(ids(rolled)).toEqual(['a:3', 'a:9', 'b:2', 'c:5'])
    expect(rolled.commonPrefixes).toEqual(['a/'])
    const short = pageUploads(uploads, { maxUploads: 3, delimiter: '/' })
    expect([...ids(short), ...short.commonPrefixes]).toEqual(['a:3', 'a:9', 'a/'])
    expect(short).toMatchObject({ isTruncated: true, nextKeyMarker: 'a/' })
    const rest = pageUploads(uploads, { maxUploads: 3, delimiter: '/', keyMarker: 'a/' })
    expect(ids(rest)).toEqual(['b:2', 'c:5'])
    expect(rest.commonPrefixes).toEqual([])
  })
})
