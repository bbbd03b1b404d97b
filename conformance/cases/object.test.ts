/**
 * @module conformance/cases/object
 * Object operations: PutObject, GetObject, HeadObject, DeleteObject; empty and large (multipart via
 * lib-storage) objects; content headers and x-amz-meta-* round trips; response-* overrides; keys with
 * special characters and the 1024-byte key limit; GetObjectTagging of an untagged object.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTagging.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, rawRequest, signedRequest, pathOf } from '../support/http.js'
import { MiB, QUOTED_ETAG, bytesOf, expectS3Error, getBytes, put, randomData, sha256 } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('object')
})
afterAll(() => s3.destroy())

/** Keys that stress path encoding, signing and listing. */
export const SPECIAL_KEYS = [
  'sp ace.txt',
  'a+b.txt',
  '100%.csv',
  'pct%20literal',
  'ünï/çødé/ñ.txt',
  '日本語/キー',
  'x~y.txt',
  'dir//double//slash',
  '/leading-slash',
  'a..b/..c/d..',
  '(1) [2] {3}.txt',
  'k=v&x=y;z,w',
  "quote'single\"double",
  'star*question?hash#',
  'trailing-slash/',
  'tab\there',
  'emoji-😀',
]

area('object', () => {
  conformanceCase('object.put-get-head-delete', 'PutObject, GetObject, HeadObject, DeleteObject round trip', async () => {
    const data = randomData(64 * 1024 + 7)
    const putOut = await put(s3, bucket, 'rt/data.bin', data)
    expect(putOut.ETag).toMatch(QUOTED_ETAG)
    const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'rt/data.bin' }))
    expect((await bytesOf(get.Body)).equals(data)).toBe(true)
    expect(get.ContentLength).toBe(data.length)
    expect(get.ETag).toBe(putOut.ETag)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'rt/data.bin' }))
    expect(head.ContentLength).toBe(data.length)
    expect(head.ETag).toBe(putOut.ETag)
    expect(head.LastModified?.getTime()).toBe(get.LastModified?.getTime())
    expect(Math.abs(head.LastModified!.getTime() - Date.now())).toBeLessThan(15 * 60_000)
    const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'rt/data.bin' }))
    expect(del.$metadata.httpStatusCode).toBe(204)
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'rt/data.bin' })), 'NoSuchKey', 404)
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'rt/data.bin' })), 'NotFound', 404)
  })

  conformanceCase('object.delete-missing', 'DeleteObject of a key that does not exist: 204', async () => {
    const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never/was.txt' }))
    expect(del.$metadata.httpStatusCode).toBe(204)
  })

  conformanceCase('object.overwrite', 'a second PutObject replaces the object (body, size, ETag)', async () => {
    await put(s3, bucket, 'ow.txt', 'first version, longer')
    await put(s3, bucket, 'ow.txt', 'second')
    expect((await getBytes(s3, bucket, 'ow.txt')).toString()).toBe('second')
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ow.txt' }))
    expect(head.ContentLength).toBe(6)
  })

  conformanceCase('object.put-get-empty', 'a 0-byte object: PUT, HEAD (Content-Length 0), GET (empty body), listed with Size 0', async () => {
    const out = await put(s3, bucket, 'empty/zero', Buffer.alloc(0))
    expect(out.ETag).toMatch(QUOTED_ETAG)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'empty/zero' }))
    expect(head.ContentLength).toBe(0)
    expect((await getBytes(s3, bucket, 'empty/zero')).length).toBe(0)
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'empty/' }))
    expect(list.Contents?.map((o) => [o.Key, o.Size])).toEqual([['empty/zero', 0]])
  })

  conformanceCase('object.content-headers', 'Content-Type, -Disposition, -Encoding, -Language, Cache-Control, Expires round-trip on HEAD and GET', async () => {
    const expires = new Date('2031-05-06T07:08:09Z')
    const headers = {
      ContentType: 'text/csv; charset=utf-8',
      ContentDisposition: 'attachment; filename="report 1.csv"',
      ContentEncoding: 'identity',
      ContentLanguage: 'de-CH',
      CacheControl: 'max-age=3600, must-revalidate',
    }
    await put(s3, bucket, 'hdr/report.csv', 'a,b\n1,2\n', { ...headers, Expires: expires })
    for (const out of [
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hdr/report.csv' })),
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hdr/report.csv' })),
    ]) {
      expect({
        ContentType: out.ContentType,
        ContentDisposition: out.ContentDisposition,
        ContentEncoding: out.ContentEncoding,
        ContentLanguage: out.ContentLanguage,
        CacheControl: out.CacheControl,
      }).toEqual(headers)
      expect(out.Expires?.getTime()).toBe(expires.getTime())
    }
  })

  conformanceCase('object.default-content-type', 'an object stored without Content-Type reads back as binary/octet-stream', async () => {
    const res = await signedRequest({ method: 'PUT', bucket, key: 'hdr/untyped', body: Buffer.from('x') })
    expect(res.status).toBe(200)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hdr/untyped' }))
    expect(head.ContentType).toBe('binary/octet-stream')
  })

  conformanceCase('object.user-metadata', 'x-amz-meta-* round-trips; names fold to lower case, values keep theirs', async () => {
    const body = Buffer.from('meta')
    const res = await signedRequest({
      method: 'PUT',
      bucket,
      key: 'meta/obj',
      body,
      headers: { 'X-Amz-Meta-MixedCase': 'Value With Spaces', 'x-amz-meta-project': 'S3veil', 'x-amz-meta-empty': '' },
    })
    expect(res.status).toBe(200)
    const head = await signedRequest({ method: 'HEAD', bucket, key: 'meta/obj' })
    expect(head.headers['x-amz-meta-mixedcase']).toBe('Value With Spaces')
    expect(head.headers['x-amz-meta-project']).toBe('S3veil')
    const sdk = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta/obj' }))
    expect(sdk.Metadata).toMatchObject({ mixedcase: 'Value With Spaces', project: 'S3veil' })
    expect(Object.keys(sdk.Metadata ?? {}).every((k) => k === k.toLowerCase())).toBe(true)
  })

  conformanceCase('object.response-overrides', 'GetObject response-* parameters override the stored headers', async () => {
    await put(s3, bucket, 'ovr/file', 'override me', { ContentType: 'text/plain', CacheControl: 'no-cache' })
    const out = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: 'ovr/file',
        ResponseContentType: 'application/x-custom',
        ResponseContentDisposition: 'attachment; filename="x.bin"',
        ResponseContentEncoding: 'identity',
        ResponseContentLanguage: 'fr',
        ResponseCacheControl: 'private, max-age=5',
        ResponseExpires: new Date('2030-01-02T03:04:05Z'),
      })
    )
    expect((await bytesOf(out.Body)).toString()).toBe('override me')
    expect({
      type: out.ContentType,
      disposition: out.ContentDisposition,
      encoding: out.ContentEncoding,
      language: out.ContentLanguage,
      cache: out.CacheControl,
      expires: out.Expires?.toISOString(),
    }).toEqual({
      type: 'application/x-custom',
      disposition: 'attachment; filename="x.bin"',
      encoding: 'identity',
      language: 'fr',
      cache: 'private, max-age=5',
      expires: '2030-01-02T03:04:05.000Z',
    })
  })

  conformanceCase('object.no-such-key-xml', 'GET of a missing key: 404 with an XML NoSuchKey error; HEAD: 404 without a body', async () => {
    const get = await signedRequest({ method: 'GET', bucket, key: 'missing/key' })
    expect(get.status).toBe(404)
    expect(errorCode(get)).toBe('NoSuchKey')
    expect(get.text).toMatch(/<RequestId>[^<]+<\/RequestId>/)
    const head = await signedRequest({ method: 'HEAD', bucket, key: 'missing/key' })
    expect(head.status).toBe(404)
    expect(head.body.length).toBe(0)
  })

  conformanceCase('object.special-keys', 'keys with space, +, %, unicode, //, ~, ..-looking and punctuation: put, list exactly, get', async () => {
    const prefix = 'special/'
    const bodies = new Map(SPECIAL_KEYS.map((k, i) => [prefix + k, `body ${i} of ${k}`]))
    for (const [key, body] of bodies) await put(s3, bucket, key, body)
    const listed: string[] = []
    let token: string | undefined
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
      listed.push(...(page.Contents ?? []).map((o) => o.Key!))
      token = page.NextContinuationToken
    } while (token)
    expect(listed.sort()).toEqual([...bodies.keys()].sort())
    for (const [key, body] of bodies) expect((await getBytes(s3, bucket, key)).toString(), key).toBe(body)
  })

  conformanceCase('object.key-1024-bytes', 'a key of 1024 bytes (UTF-8) is accepted; 1025 bytes: 400 KeyTooLongError', async () => {
    // Multi-byte characters count by their UTF-8 bytes: 'é' is 2.
    const key1024 = 'k/' + 'é'.repeat(400) + 'x'.repeat(1024 - 2 - 800)
    expect(Buffer.byteLength(key1024)).toBe(1024)
    await put(s3, bucket, key1024, 'long key')
    expect((await getBytes(s3, bucket, key1024)).toString()).toBe('long key')
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'k/' }))
    expect(list.Contents?.map((o) => o.Key)).toContain(key1024)
    const key1025 = key1024 + 'y'
    await expectS3Error(put(s3, bucket, key1025, 'too long'), 'KeyTooLongError', 400)
  })

  conformanceCase('object.large-multipart', 'a 17 MiB object through lib-storage (multipart) reads back byte for byte', async () => {
    const data = randomData(17 * MiB + 123)
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'large/17mib.bin', Body: data }, partSize: 5 * MiB, queueSize: 4 })
    await upload.done()
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'large/17mib.bin' }))
    expect(head.ContentLength).toBe(data.length)
    expect(head.ETag).toMatch(/^"[^"]+-\d+"$/)
    expect(sha256(await getBytes(s3, bucket, 'large/17mib.bin'))).toBe(sha256(data))
  }, 180_000)

  conformanceCase('object.tagging-untagged', 'GetObjectTagging of an object stored without tags: an empty TagSet; of a missing key: NoSuchKey', async () => {
    await put(s3, bucket, 'tags/none.txt', 'no tags')
    const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/none.txt' }))
    expect({ status: out.$metadata.httpStatusCode, tags: out.TagSet ?? [] }).toEqual({ status: 200, tags: [] })
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/missing.txt' })), 'NoSuchKey', 404)
  })

  conformanceCase('object.anonymous-denied', 'an unsigned GET of a private object: 403 AccessDenied', async () => {
    await put(s3, bucket, 'private.txt', 'secret-ish')
    const res = await rawRequest({ method: 'GET', path: pathOf(bucket, 'private.txt') })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'AccessDenied' })
  })
})
