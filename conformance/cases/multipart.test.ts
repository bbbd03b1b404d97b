/**
 * @module conformance/cases/multipart
 * Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy (with ranges), ListParts,
 * ListMultipartUploads, CompleteMultipartUpload, AbortMultipartUpload, and the documented errors
 * (EntityTooSmall, InvalidPart, InvalidPartOrder, NoSuchUpload, MalformedXML); GetObject and
 * HeadObject of one part of the completed object (`partNumber`).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (partNumber)
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, signedRequest } from '../support/http.js'
import { MiB, QUOTED_ETAG, bytesOf, expectS3Error, getBytes, put, randomData, sha256 } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
const FIVE = randomData(5 * MiB)
beforeAll(async () => {
  bucket = await freshBucket('multipart')
})
afterAll(() => s3.destroy())

async function create(key: string, extra: Record<string, unknown> = {}): Promise<string> {
  const out = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...extra }))
  expect(out.UploadId).toBeTruthy()
  return out.UploadId!
}

async function part(key: string, uploadId: string, n: number, body: Buffer): Promise<CompletedPart> {
  const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body }))
  expect(out.ETag).toMatch(QUOTED_ETAG)
  return { PartNumber: n, ETag: out.ETag }
}

const complete = (key: string, uploadId: string, parts: CompletedPart[]) =>
  s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }))

const abort = (key: string, uploadId: string) => s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))

/** A well-formed upload id the target never issued (long enough for servers that check the shape). */
const MADE_UP_UPLOAD = '2~made-up-upload-id-aXJyZWxldmFudC1pZC10aGF0LXdhcy1uZXZlci1pc3N1ZWQ'

area('multipart', () => {
  conformanceCase('multipart.lifecycle', 'Create, UploadPart ×2, ListParts, ListMultipartUploads, Complete; the object reads back', async () => {
    const key = 'mp/life cycle.bin'
    const last = randomData(1024 + 3)
    const uploadId = await create(key, { ContentType: 'application/x-test', Metadata: { step: 'create' } })
    const parts = [await part(key, uploadId, 1, FIVE), await part(key, uploadId, 2, last)]
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, FIVE.length, parts[0]!.ETag],
      [2, last.length, parts[1]!.ETag],
    ])
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/' }))
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toContainEqual([key, uploadId])
    const done = await complete(key, uploadId, parts)
    expect(done.Key).toBe(key)
    expect(done.ETag).toMatch(/^"[^"]+-\d+"$/)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    expect(head.ContentLength).toBe(FIVE.length + last.length)
    expect(head.ContentType).toBe('application/x-test')
    expect(head.Metadata).toEqual({ step: 'create' })
    expect(head.ETag).toBe(done.ETag)
    expect(sha256(await getBytes(s3, bucket, key))).toBe(sha256(Buffer.concat([FIVE, last])))
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/' }))
    expect((after.Uploads ?? []).map((u) => u.UploadId)).not.toContain(uploadId)
  }, 120_000)

  conformanceCase('multipart.single-small-part', 'a single part below 5 MiB (the last part may be small): Complete succeeds', async () => {
    const key = 'mp/one-byte'
    const uploadId = await create(key)
    await complete(key, uploadId, [await part(key, uploadId, 1, Buffer.from('z'))])
    expect((await getBytes(s3, bucket, key)).toString()).toBe('z')
  })

  conformanceCase('multipart.part-overwrite', 'uploading a part number twice: the last upload of it is the one used', async () => {
    const key = 'mp/overwrite'
    const uploadId = await create(key)
    await part(key, uploadId, 1, Buffer.from('first'))
    const second = await part(key, uploadId, 1, Buffer.from('second'))
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, 6]])
    await complete(key, uploadId, [second])
    expect((await getBytes(s3, bucket, key)).toString()).toBe('second')
  })

  conformanceCase('multipart.list-parts-pagination', 'ListParts max-parts=2 over 3 parts: truncated with NextPartNumberMarker, then the rest', async () => {
    const key = 'mp/pages'
    const uploadId = await create(key)
    for (const n of [1, 2, 3]) await part(key, uploadId, n, Buffer.from(`part ${n}`))
    const first = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 2 }))
    expect(first.Parts?.map((p) => p.PartNumber)).toEqual([1, 2])
    expect(first.IsTruncated).toBe(true)
    expect(String(first.NextPartNumberMarker)).toBe('2')
    const rest = await s3.send(
      new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: first.NextPartNumberMarker })
    )
    expect(rest.Parts?.map((p) => p.PartNumber)).toEqual([3])
    expect(rest.IsTruncated).toBe(false)
    await abort(key, uploadId)
  })

  conformanceCase('multipart.list-uploads-prefix', 'ListMultipartUploads lists each in-progress upload; prefix filters them', async () => {
    const a = await create('lu/a/one')
    const b = await create('lu/b/two')
    const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lu/' }))
    expect(all.Uploads?.map((u) => u.UploadId).sort()).toEqual([a, b].sort())
    const onlyB = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lu/b/' }))
    expect(onlyB.Uploads?.map((u) => u.Key)).toEqual(['lu/b/two'])
    await abort('lu/a/one', a)
    await abort('lu/b/two', b)
  })

  conformanceCase('multipart.abort', 'AbortMultipartUpload: 204; afterwards UploadPart and ListParts answer 404 NoSuchUpload', async () => {
    const key = 'mp/aborted'
    const uploadId = await create(key)
    await part(key, uploadId, 1, Buffer.from('gone'))
    const out = await abort(key, uploadId)
    expect(out.$metadata.httpStatusCode).toBe(204)
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId })), 'NoSuchUpload', 404)
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 2, Body: 'late' })),
      'NoSuchUpload',
      404
    )
  })

  conformanceCase('multipart.complete-after-abort', 'CompleteMultipartUpload of an aborted upload: 404 NoSuchUpload, no object', async () => {
    const key = 'mp/complete-aborted'
    const uploadId = await create(key)
    const p = await part(key, uploadId, 1, Buffer.from('x'))
    await abort(key, uploadId)
    await expectS3Error(complete(key, uploadId, [p]), 'NoSuchUpload', 404)
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), 'NotFound', 404)
  })

  conformanceCase('multipart.no-such-upload', 'UploadPart, ListParts, Complete with an upload id never issued: 404 NoSuchUpload', async () => {
    const key = 'mp/never'
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: MADE_UP_UPLOAD, PartNumber: 1, Body: 'x' })),
      'NoSuchUpload',
      404
    )
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: MADE_UP_UPLOAD })), 'NoSuchUpload', 404)
    await expectS3Error(complete(key, MADE_UP_UPLOAD, [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]), 'NoSuchUpload', 404)
  })

  conformanceCase('multipart.entity-too-small', 'two 1 MiB parts: Complete answers 400 EntityTooSmall (every part but the last needs 5 MiB)', async () => {
    const key = 'mp/too-small'
    const uploadId = await create(key)
    const small = randomData(MiB)
    const parts = [await part(key, uploadId, 1, small), await part(key, uploadId, 2, small)]
    await expectS3Error(complete(key, uploadId, parts), 'EntityTooSmall', 400)
    await abort(key, uploadId)
  })

  conformanceCase('multipart.invalid-part', 'Complete naming a wrong ETag or a part never uploaded: 400 InvalidPart', async () => {
    const key = 'mp/invalid-part'
    const uploadId = await create(key)
    const p1 = await part(key, uploadId, 1, FIVE)
    const p2 = await part(key, uploadId, 2, Buffer.from('tail'))
    await expectS3Error(complete(key, uploadId, [p1, { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }]), 'InvalidPart', 400)
    await expectS3Error(complete(key, uploadId, [p1, p2, { PartNumber: 3, ETag: p2.ETag }]), 'InvalidPart', 400)
    // The upload survives a failed Complete.
    await complete(key, uploadId, [p1, p2])
    expect((await getBytes(s3, bucket, key)).length).toBe(FIVE.length + 4)
  }, 120_000)

  conformanceCase('multipart.invalid-part-order', 'Complete listing parts out of ascending order: 400 InvalidPartOrder', async () => {
    const key = 'mp/order'
    const uploadId = await create(key)
    const p1 = await part(key, uploadId, 1, FIVE)
    const p2 = await part(key, uploadId, 2, Buffer.from('tail'))
    await expectS3Error(complete(key, uploadId, [p2, p1]), 'InvalidPartOrder', 400)
    await abort(key, uploadId)
  }, 120_000)

  conformanceCase('multipart.malformed-xml', 'Complete with a body that is not a CompleteMultipartUpload document, or lists no part: 400 MalformedXML', async () => {
    const key = 'mp/malformed'
    const uploadId = await create(key)
    await part(key, uploadId, 1, Buffer.from('x'))
    for (const text of ['this is not xml', '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CompleteMultipartUpload>']) {
      const res = await signedRequest({ method: 'POST', bucket, key, query: { uploadId }, body: Buffer.from(text) })
      expect({ text, status: res.status, code: errorCode(res) }).toEqual({ text, status: 400, code: 'MalformedXML' })
    }
    await abort(key, uploadId)
  })

  conformanceCase('multipart.upload-part-copy-ranges', 'UploadPartCopy with byte ranges of a source object assembles exactly those bytes', async () => {
    const src = randomData(6 * MiB + 100)
    await put(s3, bucket, 'upc/source bin+', src)
    const key = 'upc/target'
    const uploadId = await create(key)
    const copySource = `${bucket}/${encodeURIComponent('upc/source bin+').replace(/%2F/g, '/')}`
    const ranges: [number, number][] = [
      [MiB, 6 * MiB - 1],
      [0, 99],
    ]
    const parts: CompletedPart[] = []
    for (const [i, [first, last]] of ranges.entries()) {
      const out = await s3.send(
        new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, CopySource: copySource, CopySourceRange: `bytes=${first}-${last}` })
      )
      expect(out.CopyPartResult?.ETag).toMatch(QUOTED_ETAG)
      parts.push({ PartNumber: i + 1, ETag: out.CopyPartResult!.ETag })
    }
    await complete(key, uploadId, parts)
    const expected = Buffer.concat(ranges.map(([a, b]) => src.subarray(a, b + 1)))
    expect(sha256(await getBytes(s3, bucket, key))).toBe(sha256(expected))
  }, 120_000)

  conformanceCase('multipart.get-part-number', 'GetObject/HeadObject partNumber: 206 with the part\'s bytes, Content-Range and the parts count; past the last part 416 InvalidPartNumber', async () => {
    const key = 'pn/object'
    const last = randomData(1000 + 7)
    const uploadId = await create(key)
    await complete(key, uploadId, [await part(key, uploadId, 1, FIVE), await part(key, uploadId, 2, last)])
    const total = FIVE.length + last.length
    const etag = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag
    for (const [n, bytes, first] of [[1, FIVE, 0], [2, last, FIVE.length]] as const) {
      const range = `bytes ${first}-${first + bytes.length - 1}/${total}`
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: n }))
      expect({ status: got.$metadata.httpStatusCode, length: got.ContentLength, range: got.ContentRange, parts: got.PartsCount, etag: got.ETag })
        .toEqual({ status: 206, length: bytes.length, range, parts: 2, etag })
      expect(sha256(await bytesOf(got.Body))).toBe(sha256(bytes))
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: n }))
      expect({ status: head.$metadata.httpStatusCode, length: head.ContentLength, range: head.ContentRange, parts: head.PartsCount })
        .toEqual({ status: 206, length: bytes.length, range, parts: 2 })
    }
    const past = await signedRequest({ method: 'GET', bucket, key, query: { partNumber: '3' } })
    expect({ status: past.status, code: errorCode(past) }).toEqual({ status: 416, code: 'InvalidPartNumber' })
  }, 120_000)
})
