/**
 * @module backend/s3-upstream-multipart.test
 * The S3 upstream backend's multipart operations and CopyObject against a real Ceph RGW (test/helpers/rgw.ts), including
 * the RGW deviations the backend smooths over (empty ETag from Complete, NoSuchKey from ListParts and
 * 500 from Complete for an unknown upload).
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests } from '../../test/helpers/rgw.js'
import { S3Error } from '../s3/errors.js'
import { createS3UpstreamBackend } from './s3-upstream-node.js'
import type { Backend, ObjectMetadata } from './types.js'
import { chunks, collect, s3ErrorCode as code } from '../../test/helpers/streams.js'

const rgw = await rgwForTests()
const MiB = 1024 * 1024
const META: ObjectMetadata = { headers: { contentType: 'text/x-test', expires: 'Thu, 01 Jan 2099 00:00:00 GMT' }, user: { color: 'blue' } }

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest()

describe.skipIf(!rgw)('S3 upstream multipart on Ceph RGW', () => {
  const bucket = `s3veil-upmp-${randomBytes(4).toString('hex')}`
  let backend: Backend

  beforeAll(async () => {
    backend = createS3UpstreamBackend({
      endpoint: rgw!.endpoint,
      region: rgw!.region,
      credentials: { accessKeyId: rgw!.accessKeyId, secretAccessKey: rgw!.secretAccessKey },
    })
    await backend.createBucket(bucket)
  })

  afterAll(async () => {
    if (!backend) return
    for (const upload of (await backend.listMultipartUploads({ bucket, maxUploads: 1000 })).uploads) {
      await backend.abortMultipartUpload({ bucket, ...upload }).catch(() => undefined)
    }
    const page = await backend.listObjects({ bucket, maxKeys: 1000 })
    if (page.objects.length > 0) await backend.deleteObjects(bucket, page.objects.map((o) => o.key))
    await backend.deleteBucket(bucket)
  })

  const part = (key: string, uploadId: string, partNumber: number, data: Uint8Array) =>
    backend.uploadPart({ bucket, key, uploadId, partNumber, body: chunks(data), contentLength: data.byteLength })

  it('uploads, lists and completes; the ETag is the object\'s even though RGW answers Complete with none', async () => {
    const uploadId = await backend.createMultipartUpload(bucket, 'obj', META)
    const data = [randomBytes(5 * MiB + 1), randomBytes(3)]
    const etags = [(await part('obj', uploadId, 1, data[0]!)).etag, (await part('obj', uploadId, 3, data[1]!)).etag]
    expect(etags[1]).toBe(`"${md5(data[1]!).toString('hex')}"`)
    const listed = await backend.listParts({ bucket, key: 'obj', uploadId, maxParts: 1 })
    expect(listed.parts.map((p) => [p.partNumber, p.etag, p.size])).toEqual([[1, etags[0], 5 * MiB + 1]])
    expect(listed).toMatchObject({ isTruncated: true, nextPartNumberMarker: 1 })
    const rest = await backend.listParts({ bucket, key: 'obj', uploadId, maxParts: 10, partNumberMarker: 1 })
    expect(rest.parts.map((p) => p.partNumber)).toEqual([3])
    const uploads = await backend.listMultipartUploads({ bucket, maxUploads: 1000, prefix: 'ob' })
    expect(uploads.uploads.map((u) => [u.key, u.uploadId])).toEqual([['obj', uploadId]])

    const result = await backend.completeMultipartUpload({
      bucket,
      key: 'obj',
      uploadId,
      parts: [
        { partNumber: 1, etag: etags[0]! },
        { partNumber: 3, etag: etags[1]!.slice(1, -1) },
      ],
    })
    expect(result.etag).toBe(`"${md5(Buffer.concat(data.map(md5))).toString('hex')}-2"`)
    const got = await backend.getObject({ bucket, key: 'obj' })
    expect(got.etag).toBe(result.etag)
    expect(got.metadata.user).toEqual({ color: 'blue' })
    expect(got.metadata.headers).toMatchObject({ contentType: 'text/x-test', expires: META.headers.expires })
    expect((await collect(got.body)).equals(Buffer.concat(data))).toBe(true)
  })

  it('passes S3\'s part-list errors through and keeps the upload', async () => {
    // RGW 16 sorts the client's list (a reversed list completes: AWS says InvalidPartOrder) and answers
    // InvalidPart unless every uploaded part is listed, and checks sizes before ETags; the encrypting
    // decorator checks the list itself, in AWS's order, before the upstream sees it.
    const uploadId = await backend.createMultipartUpload(bucket, 'bad', META)
    const a = await part('bad', uploadId, 1, randomBytes(1024))
    const b = await part('bad', uploadId, 2, randomBytes(1024))
    const complete = (parts: { partNumber: number; etag: string }[]) =>
      backend.completeMultipartUpload({ bucket, key: 'bad', uploadId, parts })
    expect(await code(complete([{ partNumber: 1, etag: b.etag }]))).toBe('InvalidPart')
    expect(await code(complete([{ partNumber: 1, etag: a.etag }, { partNumber: 2, etag: b.etag }]))).toBe('EntityTooSmall')
    expect((await backend.listParts({ bucket, key: 'bad', uploadId, maxParts: 10 })).parts).toHaveLength(2)
    await backend.abortMultipartUpload({ bucket, key: 'bad', uploadId })
  })

  it('unknown, aborted and completed uploads are NoSuchUpload everywhere', async () => {
    const uploadId = await backend.createMultipartUpload(bucket, 'gone', META)
    const a = await part('gone', uploadId, 1, Buffer.from('x'))
    await backend.abortMultipartUpload({ bucket, key: 'gone', uploadId })
    expect(await code(backend.abortMultipartUpload({ bucket, key: 'gone', uploadId }))).toBe('NoSuchUpload')
    expect(
      await code(backend.completeMultipartUpload({ bucket, key: 'gone', uploadId, parts: [{ partNumber: 1, etag: a.etag }] }))
    ).toBe('NoSuchUpload')
    expect(await code(backend.listParts({ bucket, key: 'gone', uploadId, maxParts: 10 }))).toBe('NoSuchUpload')
    expect(await code(part('gone', uploadId, 2, Buffer.from('y')))).toBe('NoSuchUpload')
  })

  it('copies with COPY and REPLACE (Expires byte for byte), keys with spaces, unicode and plus', async () => {
    const data = randomBytes(1000)
    await backend.putObject({ bucket, key: 'copy src ü+1', body: chunks(data), contentLength: data.length, metadata: META })
    const copied = await backend.copyObject({ source: { bucket, key: 'copy src ü+1' }, bucket, key: 'copy dst ü+2' })
    // RGW's copy result ETag is unquoted: quoted here like every other.
    expect(copied.etag).toBe(`"${md5(data).toString('hex')}"`)
    const got = await backend.getObject({ bucket, key: 'copy dst ü+2' })
    expect(got.metadata.user).toEqual({ color: 'blue' })
    expect((await collect(got.body)).equals(data)).toBe(true)
    const replaced: ObjectMetadata = { headers: { contentType: 'image/png', expires: 'soon, not a date' }, user: { shade: 'dark' } }
    await backend.copyObject({ source: { bucket, key: 'copy dst ü+2' }, bucket, key: 'copy dst ü+2', metadata: replaced })
    const head = await backend.headObject(bucket, 'copy dst ü+2')
    expect(head.metadata.user).toEqual({ shade: 'dark' })
    expect(head.metadata.headers).toMatchObject({ contentType: 'image/png', expires: 'soon, not a date' })
    // RGW ignores x-amz-copy-source-if-*; the backend checks them itself.
    const refused = backend.copyObject({ source: { bucket, key: 'copy src ü+1' }, bucket, key: 'never', sourceConditions: { ifMatch: '"0"' } })
    expect(await code(refused)).toBe('PreconditionFailed')
    expect(await code(backend.headObject(bucket, 'never'))).toBe('NoSuchKey')
  })

  it('a part whose body fails is not stored, and the body\'s own error wins', async () => {
    const uploadId = await backend.createMultipartUpload(bucket, 'fail', META)
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(MiB)
      throw new S3Error('BadDigest')
    }
    const upload = backend.uploadPart({ bucket, key: 'fail', uploadId, partNumber: 1, body: failing(), contentLength: MiB })
    expect(await code(upload)).toBe('BadDigest')
    expect((await backend.listParts({ bucket, key: 'fail', uploadId, maxParts: 10 })).parts).toEqual([])
    await backend.abortMultipartUpload({ bucket, key: 'fail', uploadId })
  })
})
