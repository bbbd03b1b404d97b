/**
 * GetObject and HeadObject with `partNumber` through the running gateway, on the disk store and on
 * RGW: part n of a multipart object (by position, parts of misaligned sizes, numbered with gaps) as
 * 206 with Content-Range and x-amz-mp-parts-count; part 1 of a single-PUT object is all of it; past
 * the last part is 416 InvalidPartNumber; partNumber with a Range, or out of 1..10000, is refused as
 * S3 refuses it. A client downloading by parts (HEAD part 1 for the count, then every part in
 * parallel) gets the object back byte for byte.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 */
import { randomBytes } from 'node:crypto'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests } from '../helpers/rgw.js'
import {
  MiB,
  objectPath,
  sdkError,
  signedRequest,
  startTarget,
  uniqueBucket,
  xmlValue,
  type BackendKind,
  type Target,
} from './support.js'

const rgw = await rgwForTests()
const BACKENDS: BackendKind[] = ['disk', 'rgw']

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`GET/HEAD partNumber, ${kind} backend`, () => {
    let t: Target
    let s3: S3Client
    const bucket = uniqueBucket('pn')
    const plainBucket = uniqueBucket('pn-plain')
    // Misaligned sizes (not multiples of 64 KiB) uploaded as parts 2, 5 and 9.
    const parts = [randomBytes(5 * MiB + 1), randomBytes(5 * MiB + 7), randomBytes(1000)]
    const data = Buffer.concat(parts)
    const single = randomBytes(200_003)

    async function multipart(b: string, key: string): Promise<string> {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: key }))
      const numbers = [2, 5, 9]
      const done = []
      for (const [i, body] of parts.entries()) {
        const out = await s3.send(new UploadPartCommand({ Bucket: b, Key: key, UploadId, PartNumber: numbers[i], Body: body }))
        done.push({ PartNumber: numbers[i], ETag: out.ETag })
      }
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: key, UploadId, MultipartUpload: { Parts: done } }))
      // RGW's Complete answers an empty ETag; HEAD has the right one.
      return (await s3.send(new HeadObjectCommand({ Bucket: b, Key: key }))).ETag!
    }

    let etag: string

    beforeAll(async () => {
      t = await startTarget(kind, rgw, { extra: { plaintextBuckets: [plainBucket] } })
      s3 = t.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      await s3.send(new CreateBucketCommand({ Bucket: plainBucket }))
      etag = await multipart(bucket, 'mp')
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'single', Body: single }))
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
    })

    it('part n of a multipart object: 206, Content-Range, x-amz-mp-parts-count, the part\'s bytes (GET and HEAD)', async () => {
      let offset = 0
      for (const [i, part] of parts.entries()) {
        const n = i + 1
        const range = `bytes ${offset}-${offset + part.length - 1}/${data.length}`
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: n }))
        expect(got).toMatchObject({ ContentLength: part.length, ContentRange: range, PartsCount: 3, ETag: etag })
        expect(got.$metadata.httpStatusCode).toBe(206)
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(part)).toBe(true)
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: n }))
        expect(head).toMatchObject({ ContentLength: part.length, ContentRange: range, PartsCount: 3, ETag: etag })
        expect(head.$metadata.httpStatusCode).toBe(206)
        offset += part.length
      }
    })

    it('a client downloading by parts (HEAD part 1 for the count, all parts in parallel) gets every byte back', async () => {
      const first = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: 1 }))
      const count = first.PartsCount!
      const bodies = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: i + 1, IfMatch: first.ETag }))
          return Buffer.from(await out.Body!.transformToByteArray())
        })
      )
      expect(Buffer.concat(bodies).equals(data)).toBe(true)
    })

    it('past the last part: 416 InvalidPartNumber with the counts (HEAD: status only)', async () => {
      const raw = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 'mp'), query: { partNumber: '4' } })
      expect(raw.status).toBe(416)
      const xml = raw.body.toString()
      expect(xmlValue(xml, 'Code')).toBe('InvalidPartNumber')
      expect(xmlValue(xml, 'PartNumberRequested')).toBe('4')
      expect(xmlValue(xml, 'ActualPartCount')).toBe('3')
      const head = await signedRequest(t, { method: 'HEAD', path: objectPath(bucket, 'mp'), query: { partNumber: '4' } })
      expect(head.status).toBe(416)
      expect(head.body.length).toBe(0)
    })

    it('a single-PUT object: part 1 is all of it, without a parts count; part 2 is InvalidPartNumber', async () => {
      const raw = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 'single'), query: { partNumber: '1' } })
      expect(raw.status).toBe(206)
      expect(raw.headers['content-range']).toBe(`bytes 0-${single.length - 1}/${single.length}`)
      expect(raw.headers['x-amz-mp-parts-count']).toBeUndefined()
      expect(raw.body.equals(single)).toBe(true)
      const err = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'single', PartNumber: 2 })))
      expect(err).toMatchObject({ name: 'InvalidPartNumber', status: 416 })
    })

    it('refuses partNumber with a Range (400 InvalidRequest) and outside 1..10000 (400 InvalidArgument)', async () => {
      const both = await signedRequest(t, {
        method: 'GET',
        path: objectPath(bucket, 'mp'),
        query: { partNumber: '1' },
        headers: { range: 'bytes=0-9' },
      })
      expect(both.status).toBe(400)
      expect(xmlValue(both.body.toString(), 'Code')).toBe('InvalidRequest')
      for (const value of ['0', '10001', 'x', '']) {
        const bad = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 'mp'), query: { partNumber: value } })
        expect(bad.status, value).toBe(400)
        expect(xmlValue(bad.body.toString(), 'Code'), value).toBe('InvalidArgument')
      }
    })

    it('conditions apply to part reads as to whole reads', async () => {
      const err = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', PartNumber: 1, IfMatch: '"0"' })))
      expect(err).toMatchObject({ status: 412 })
      const raw = await signedRequest(t, {
        method: 'GET',
        path: objectPath(bucket, 'mp'),
        query: { partNumber: '2' },
        headers: { 'if-none-match': etag },
      })
      expect(raw.status).toBe(304)
    })

    const plainOutcome = kind === 'rgw' ? 'RGW 16 cannot serve it: 501' : 'which serves it'
    it(`a plaintext bucket passes partNumber to the store (${plainOutcome})`, async () => {
      await multipart(plainBucket, 'mp')
      if (kind === 'rgw') {
        // RGW 16 ignores partNumber and would send the whole object; the gateway says so instead.
        const err = await sdkError(s3.send(new GetObjectCommand({ Bucket: plainBucket, Key: 'mp', PartNumber: 2 })))
        expect(err).toMatchObject({ name: 'NotImplemented', status: 501 })
        return
      }
      const got = await s3.send(new GetObjectCommand({ Bucket: plainBucket, Key: 'mp', PartNumber: 2 }))
      expect(got).toMatchObject({ PartsCount: 3, ContentLength: parts[1]!.length })
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(parts[1]!)).toBe(true)
    })
  })
}
