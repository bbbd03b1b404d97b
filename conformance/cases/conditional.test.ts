/**
 * @module conformance/cases/conditional
 * Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on GET and
 * HEAD, with S3's documented precedence, and conditional writes (PutObject If-None-Match: * and If-Match).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (If-Match … precedence)
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, signedRequest } from '../support/http.js'
import { expectS3Error, getBytes, put } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
let etag: string
let lastModified: Date
const KEY = 'cond/obj.txt'
const BODY = 'conditional body'
beforeAll(async () => {
  bucket = await freshBucket('cond')
  await put(s3, bucket, KEY, BODY)
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: KEY }))
  etag = head.ETag!
  lastModified = head.LastModified!
})
afterAll(() => s3.destroy())

const httpDate = (d: Date) => d.toUTCString()
const before = () => httpDate(new Date(lastModified.getTime() - 24 * 3600_000))
const after = () => httpDate(new Date(lastModified.getTime() + 24 * 3600_000))

async function status(method: string, headers: Record<string, string>): Promise<{ status: number; body: number }> {
  const res = await signedRequest({ method, bucket, key: KEY, headers })
  if (method === 'GET' && res.status === 412) expect(errorCode(res)).toBe('PreconditionFailed')
  return { status: res.status, body: res.body.length }
}

area('conditional', () => {
  for (const method of ['GET', 'HEAD']) {
    const m = method.toLowerCase()
    const full = method === 'GET' ? BODY.length : 0
    conformanceCase(`conditional.${m}-if-match`, `${method} If-Match: 200 when it matches (also *), 412 when not`, async () => {
      expect(await status(method, { 'if-match': etag })).toEqual({ status: 200, body: full })
      expect(await status(method, { 'if-match': '*' })).toEqual({ status: 200, body: full })
      expect((await status(method, { 'if-match': '"00000000000000000000000000000000"' })).status).toBe(412)
    })
    conformanceCase(`conditional.${m}-if-none-match`, `${method} If-None-Match: 304 without body when it matches, 200 when not`, async () => {
      expect(await status(method, { 'if-none-match': etag })).toEqual({ status: 304, body: 0 })
      expect(await status(method, { 'if-none-match': '"00000000000000000000000000000000"' })).toEqual({ status: 200, body: full })
    })
    conformanceCase(`conditional.${m}-if-modified-since`, `${method} If-Modified-Since: 304 when not modified since, 200 when modified`, async () => {
      expect(await status(method, { 'if-modified-since': after() })).toEqual({ status: 304, body: 0 })
      expect(await status(method, { 'if-modified-since': before() })).toEqual({ status: 200, body: full })
    })
    conformanceCase(`conditional.${m}-if-unmodified-since`, `${method} If-Unmodified-Since: 412 when modified since, 200 when not`, async () => {
      expect((await status(method, { 'if-unmodified-since': before() })).status).toBe(412)
      expect(await status(method, { 'if-unmodified-since': after() })).toEqual({ status: 200, body: full })
    })
    conformanceCase(
      `conditional.${m}-precedence`,
      `${method}: If-Match true wins over If-Unmodified-Since false (200); If-None-Match false wins over If-Modified-Since true (304)`,
      async () => {
        expect((await status(method, { 'if-match': etag, 'if-unmodified-since': before() })).status).toBe(200)
        expect((await status(method, { 'if-none-match': etag, 'if-modified-since': before() })).status).toBe(304)
        // And a failing If-Match is a 412 whatever the dates say.
        expect((await status(method, { 'if-match': '"0"', 'if-unmodified-since': after() })).status).toBe(412)
      }
    )
  }

  conformanceCase('conditional.get-with-range', 'a conditional GET that passes still honours its Range (206)', async () => {
    const res = await signedRequest({ method: 'GET', bucket, key: KEY, headers: { 'if-match': etag, range: 'bytes=0-3' } })
    expect(res.status).toBe(206)
    expect(res.text).toBe(BODY.slice(0, 4))
  })

  conformanceCase('conditional.put-if-none-match-star', 'PutObject If-None-Match: * creates when absent, 412 PreconditionFailed when present', async () => {
    await put(s3, bucket, 'cond/once.txt', 'first', { IfNoneMatch: '*' })
    await expectS3Error(put(s3, bucket, 'cond/once.txt', 'second', { IfNoneMatch: '*' }), 'PreconditionFailed', 412)
    expect((await getBytes(s3, bucket, 'cond/once.txt')).toString()).toBe('first')
  })

  conformanceCase('conditional.put-if-match', 'PutObject If-Match: replaces on a match, 412 on a mismatch, 404 NoSuchKey when absent', async () => {
    const first = await put(s3, bucket, 'cond/cas.txt', 'v1')
    await expectS3Error(put(s3, bucket, 'cond/cas.txt', 'v2', { IfMatch: '"00000000000000000000000000000000"' }), 'PreconditionFailed', 412)
    expect((await getBytes(s3, bucket, 'cond/cas.txt')).toString()).toBe('v1')
    await put(s3, bucket, 'cond/cas.txt', 'v2', { IfMatch: first.ETag })
    expect((await getBytes(s3, bucket, 'cond/cas.txt')).toString()).toBe('v2')
    await expectS3Error(put(s3, bucket, 'cond/absent.txt', 'v', { IfMatch: first.ETag }), 'NoSuchKey', 404)
  })
})
