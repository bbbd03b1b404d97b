/**
 * @module conformance/cases/copy
 * CopyObject: metadata directive COPY and REPLACE, copy onto itself, x-amz-copy-source-if-*
 * conditions, copy-source encoding of special keys, missing sources, and the CopyObjectResult.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
 */
import { CopyObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { expectS3Error, getBytes, put, QUOTED_ETAG } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
let other: string
beforeAll(async () => {
  bucket = await freshBucket('copy')
  other = await freshBucket('copy-dst')
})
afterAll(() => s3.destroy())

/** x-amz-copy-source: bucket/key with the key URL-encoded (as the SDKs leave it to the caller). */
const source = (b: string, key: string) => `${b}/${key.split('/').map(encodeURIComponent).join('/')}`

const SOURCE_HEADERS = {
  ContentType: 'text/plain',
  CacheControl: 'max-age=60',
  ContentDisposition: 'inline',
  ContentLanguage: 'en',
  Metadata: { origin: 'source', shared: 'one' },
}

area('copy', () => {
  conformanceCase('copy.directive-copy', 'CopyObject (COPY, the default) to another bucket keeps body, content headers and metadata', async () => {
    await put(s3, bucket, 'src/a.txt', 'copy me', SOURCE_HEADERS)
    const out = await s3.send(new CopyObjectCommand({ Bucket: other, Key: 'dst/a.txt', CopySource: source(bucket, 'src/a.txt') }))
    expect(out.CopyObjectResult?.ETag).toMatch(QUOTED_ETAG)
    expect(out.CopyObjectResult?.LastModified).toBeInstanceOf(Date)
    expect((await getBytes(s3, other, 'dst/a.txt')).toString()).toBe('copy me')
    const head = await s3.send(new HeadObjectCommand({ Bucket: other, Key: 'dst/a.txt' }))
    expect({ type: head.ContentType, cache: head.CacheControl, disp: head.ContentDisposition, lang: head.ContentLanguage, meta: head.Metadata }).toEqual({
      type: 'text/plain', cache: 'max-age=60', disp: 'inline', lang: 'en', meta: { origin: 'source', shared: 'one' },
    })
    expect(head.ETag).toBe(out.CopyObjectResult?.ETag)
  })

  conformanceCase('copy.directive-replace', 'CopyObject REPLACE takes all content headers and metadata from the request', async () => {
    await put(s3, bucket, 'src/r.txt', 'replace me', SOURCE_HEADERS)
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'dst/r.txt',
        CopySource: source(bucket, 'src/r.txt'),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/csv',
        Metadata: { fresh: 'yes' },
      })
    )
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dst/r.txt' }))
    expect(head.ContentType).toBe('text/csv')
    expect(head.Metadata).toEqual({ fresh: 'yes' })
    expect(head.CacheControl).toBeUndefined()
    expect(head.ContentDisposition).toBeUndefined()
    expect((await getBytes(s3, bucket, 'dst/r.txt')).toString()).toBe('replace me')
  })

  conformanceCase('copy.self-needs-replace', 'CopyObject onto itself: 400 InvalidRequest with COPY; allowed with REPLACE (new metadata)', async () => {
    await put(s3, bucket, 'self/x.txt', 'self', { ContentType: 'text/plain' })
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self/x.txt', CopySource: source(bucket, 'self/x.txt') })), 'InvalidRequest', 400)
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket, Key: 'self/x.txt', CopySource: source(bucket, 'self/x.txt'), MetadataDirective: 'REPLACE', ContentType: 'text/markdown',
      })
    )
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'self/x.txt' }))
    expect(head.ContentType).toBe('text/markdown')
    expect((await getBytes(s3, bucket, 'self/x.txt')).toString()).toBe('self')
  })

  conformanceCase('copy.source-conditions', 'x-amz-copy-source-if-match / -none-match / -modified-since / -unmodified-since: 412 when they fail', async () => {
    const src = await put(s3, bucket, 'cond/src.txt', 'conditional source')
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cond/src.txt' }))
    const past = new Date(head.LastModified!.getTime() - 24 * 3600_000)
    const future = new Date(head.LastModified!.getTime() + 24 * 3600_000)
    const copy = (extra: Record<string, unknown>) =>
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond/dst.txt', CopySource: source(bucket, 'cond/src.txt'), ...extra }))
    await expectS3Error(copy({ CopySourceIfMatch: '"00000000000000000000000000000000"' }), 'PreconditionFailed', 412)
    await expectS3Error(copy({ CopySourceIfNoneMatch: src.ETag }), 'PreconditionFailed', 412)
    await expectS3Error(copy({ CopySourceIfUnmodifiedSince: past }), 'PreconditionFailed', 412)
    await expectS3Error(copy({ CopySourceIfModifiedSince: future }), 'PreconditionFailed', 412)
    await copy({ CopySourceIfMatch: src.ETag, CopySourceIfUnmodifiedSince: future })
    expect((await getBytes(s3, bucket, 'cond/dst.txt')).toString()).toBe('conditional source')
  })

  conformanceCase('copy.special-key-source', 'CopyObject from a key with space, +, %, unicode (URL-encoded copy source)', async () => {
    const key = 'sp ace/a+b 100%/ünï.txt'
    await put(s3, bucket, key, 'special source')
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst/special copy+.txt', CopySource: source(bucket, key) }))
    expect((await getBytes(s3, bucket, 'dst/special copy+.txt')).toString()).toBe('special source')
  })

  conformanceCase('copy.missing-source', 'CopyObject from a missing key: 404 NoSuchKey; from a missing bucket: 404 NoSuchBucket', async () => {
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst/none', CopySource: source(bucket, 'no/such/key') })), 'NoSuchKey', 404)
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst/none', CopySource: source(`${bucket}-absent`, 'k') })),
      'NoSuchBucket',
      404
    )
  })

  conformanceCase('copy.empty-object', 'CopyObject of a 0-byte object gives a 0-byte object', async () => {
    await put(s3, bucket, 'src/empty', Buffer.alloc(0))
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst/empty', CopySource: source(bucket, 'src/empty') }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dst/empty' }))
    expect(head.ContentLength).toBe(0)
  })
})
