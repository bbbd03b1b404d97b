/** @module backend/filesystem-multipart.test — the disk store's multipart uploads and copies, on a real temp directory. */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { S3Error } from '../s3/errors.js'
import { createFilesystemBackend } from './filesystem.js'
import type { Backend, ObjectMetadata } from './types.js'
import { chunks, collect, s3ErrorCode as code } from '../../test/helpers/streams.js'

const MiB = 1024 * 1024
const META: ObjectMetadata = { headers: { contentType: 'text/x-test', cacheControl: 'no-cache' }, user: { color: 'blue' } }

let root: string
let dataDir: string
let backend: Backend

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 's3veil-fsmp-'))
  dataDir = join(root, 'data')
  backend = await createFilesystemBackend({ dataDir, fsync: false })
  await backend.createBucket('bkt')
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

function md5(data: Uint8Array): Buffer {
  return createHash('md5').update(data).digest()
}

async function upload(uploadId: string, partNumber: number, data: Uint8Array, key = 'obj') {
  return backend.uploadPart({ bucket: 'bkt', key, uploadId, partNumber, body: chunks(data), contentLength: data.byteLength })
}

describe('disk multipart uploads', () => {
  it('assembles parts (with gaps) into one object with S3\'s multipart ETag and the metadata from Create', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    expect(uploadId).toMatch(/^[0-9a-f]{44}$/)
    const parts = [randomBytes(5 * MiB + 1), randomBytes(5 * MiB + 1), randomBytes(3)]
    const numbers = [1, 4, 9]
    const etags: string[] = []
    for (let i = 0; i < parts.length; i++) etags.push((await upload(uploadId, numbers[i]!, parts[i]!)).etag)
    expect(etags[2]).toBe(`"${md5(parts[2]!).toString('hex')}"`)
    const result = await backend.completeMultipartUpload({
      bucket: 'bkt',
      key: 'obj',
      uploadId,
      parts: numbers.map((partNumber, i) => ({ partNumber, etag: etags[i]! })),
    })
    const expected = `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-3"`
    expect(result.etag).toBe(expected)
    const got = await backend.getObject({ bucket: 'bkt', key: 'obj' })
    expect(got.etag).toBe(expected)
    expect(got.metadata).toEqual(META)
    expect((await collect(got.body)).equals(Buffer.concat(parts))).toBe(true)
    expect((await backend.listMultipartUploads({ bucket: 'bkt', maxUploads: 1000 })).uploads).toEqual([])
    expect(await readdir(join(dataDir, 'buckets', 'bkt', 'uploads'))).toEqual([])
  })

  it('records the part sizes, so partNumber reads part n (by position) with the parts count', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    const parts = [randomBytes(5 * MiB + 1), randomBytes(3)]
    const e1 = await upload(uploadId, 2, parts[0]!)
    const e2 = await upload(uploadId, 7, parts[1]!)
    const list = [{ partNumber: 2, etag: e1.etag }, { partNumber: 7, etag: e2.etag }]
    await backend.completeMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId, parts: list })
    const second = await backend.getObject({ bucket: 'bkt', key: 'obj', partNumber: 2 })
    expect(second).toMatchObject({ size: 5 * MiB + 4, range: { start: 5 * MiB + 1, end: 5 * MiB + 3 }, partsCount: 2 })
    expect((await collect(second.body)).equals(parts[1]!)).toBe(true)
    expect(await backend.headObject('bkt', 'obj', undefined, 1)).toMatchObject({ range: { start: 0, end: 5 * MiB }, partsCount: 2 })
    expect(await code(backend.getObject({ bucket: 'bkt', key: 'obj', partNumber: 3 }))).toBe('InvalidPartNumber')
    // A copy is a new single-part object.
    await backend.copyObject({ source: { bucket: 'bkt', key: 'obj' }, bucket: 'bkt', key: 'copy' })
    expect(await backend.headObject('bkt', 'copy', undefined, 1)).toMatchObject({ range: { start: 0, end: 5 * MiB + 3 } })
    expect(await code(backend.headObject('bkt', 'copy', undefined, 2))).toBe('InvalidPartNumber')
  })

  it('a re-uploaded part replaces the earlier one (last wins), and ListParts shows it', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    await upload(uploadId, 1, Buffer.from('first'))
    const second = await upload(uploadId, 1, Buffer.from('second!'))
    const listed = await backend.listParts({ bucket: 'bkt', key: 'obj', uploadId, maxParts: 1000 })
    expect(listed.parts.map((p) => [p.partNumber, p.etag, p.size])).toEqual([[1, second.etag, 7]])
    await backend.completeMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId, parts: [{ partNumber: 1, etag: second.etag }] })
    expect((await collect((await backend.getObject({ bucket: 'bkt', key: 'obj' })).body)).toString()).toBe('second!')
  })

  it('refuses bad part lists as S3 does and leaves the upload completable', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    const a = await upload(uploadId, 1, randomBytes(MiB))
    const b = await upload(uploadId, 2, randomBytes(MiB))
    const complete = (parts: { partNumber: number; etag: string }[]) =>
      backend.completeMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId, parts })
    expect(await code(complete([{ partNumber: 2, etag: b.etag }, { partNumber: 1, etag: a.etag }]))).toBe('InvalidPartOrder')
    expect(await code(complete([{ partNumber: 1, etag: b.etag }]))).toBe('InvalidPart')
    expect(await code(complete([{ partNumber: 3, etag: a.etag }]))).toBe('InvalidPart')
    expect(await code(complete([{ partNumber: 1, etag: a.etag }, { partNumber: 2, etag: b.etag }]))).toBe('EntityTooSmall')
    expect(await code(complete([]))).toBe('MalformedXML')
    expect(await code(backend.headObject('bkt', 'obj'))).toBe('NoSuchKey')
    // A single small part is fine.
    await complete([{ partNumber: 2, etag: b.etag }])
    expect((await backend.headObject('bkt', 'obj')).size).toBe(MiB)
  })

  it('abort removes everything; a second abort, a complete or a part afterwards is NoSuchUpload', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    const a = await upload(uploadId, 1, Buffer.from('x'))
    await backend.abortMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId })
    expect(await readdir(join(dataDir, 'buckets', 'bkt', 'uploads'))).toEqual([])
    expect(await code(backend.abortMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId }))).toBe('NoSuchUpload')
    expect(
      await code(backend.completeMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId, parts: [{ partNumber: 1, etag: a.etag }] }))
    ).toBe('NoSuchUpload')
    expect(await code(upload(uploadId, 1, Buffer.from('x')))).toBe('NoSuchUpload')
    expect(await code(backend.listParts({ bucket: 'bkt', key: 'obj', uploadId, maxParts: 10 }))).toBe('NoSuchUpload')
  })

  it('an upload id names one key, and malformed ids never reach a path', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    expect(await code(upload(uploadId, 1, Buffer.from('x'), 'other'))).toBe('NoSuchUpload')
    for (const bad of ['../../tmp', '', uploadId.toUpperCase(), uploadId + '0']) {
      expect(await code(backend.abortMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId: bad }))).toBe('NoSuchUpload')
    }
    expect(await code(backend.createMultipartUpload('nope', 'obj', META))).toBe('NoSuchBucket')
    expect(await code(backend.listParts({ bucket: 'nope', key: 'obj', uploadId, maxParts: 1 }))).toBe('NoSuchBucket')
  })

  it('a part whose body fails or is short is not stored', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('abc')
      throw new S3Error('BadDigest')
    }
    expect(await code(backend.uploadPart({ bucket: 'bkt', key: 'obj', uploadId, partNumber: 1, body: failing(), contentLength: 3 }))).toBe(
      'BadDigest'
    )
    expect(
      await code(backend.uploadPart({ bucket: 'bkt', key: 'obj', uploadId, partNumber: 1, body: chunks(Buffer.from('ab')), contentLength: 3 }))
    ).toBe('IncompleteBody')
    expect((await backend.listParts({ bucket: 'bkt', key: 'obj', uploadId, maxParts: 10 })).parts).toEqual([])
  })

  it('If-None-Match: * on complete fails on an existing key and keeps the upload', async () => {
    await backend.putObject({ bucket: 'bkt', key: 'obj', body: chunks(Buffer.from('old')), contentLength: 3, metadata: META })
    const uploadId = await backend.createMultipartUpload('bkt', 'obj', META)
    const a = await upload(uploadId, 1, Buffer.from('new'))
    const parts = [{ partNumber: 1, etag: a.etag }]
    const conditional = backend.completeMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId, parts, conditions: { ifNoneMatch: '*' } })
    expect(await code(conditional)).toBe('PreconditionFailed')
    await backend.completeMultipartUpload({ bucket: 'bkt', key: 'obj', uploadId, parts })
    expect((await collect((await backend.getObject({ bucket: 'bkt', key: 'obj' })).body)).toString()).toBe('new')
  })

  it('lists parts and uploads with S3 paging', async () => {
    const first = await backend.createMultipartUpload('bkt', 'a/1', META)
    const second = await backend.createMultipartUpload('bkt', 'a/1', META)
    await backend.createMultipartUpload('bkt', 'b', META)
    await backend.createMultipartUpload('bkt', 'a/2', META)
    for (const n of [3, 1, 2]) await upload(first, n, Buffer.from(`p${n}`), 'a/1')
    const page1 = await backend.listParts({ bucket: 'bkt', key: 'a/1', uploadId: first, maxParts: 2 })
    expect(page1.parts.map((p) => p.partNumber)).toEqual([1, 2])
    expect(page1).toMatchObject({ isTruncated: true, nextPartNumberMarker: 2 })
    const page2 = await backend.listParts({ bucket: 'bkt', key: 'a/1', uploadId: first, maxParts: 2, partNumberMarker: 2 })
    expect(page2.parts.map((p) => p.partNumber)).toEqual([3])
    expect(page2.isTruncated).toBe(false)

    const all = await backend.listMultipartUploads({ bucket: 'bkt', maxUploads: 1000 })
    // Same key: in the order they were started (the ids sort by start time).
    expect(all.uploads.map((u) => u.key)).toEqual(['a/1', 'a/1', 'a/2', 'b'])
    expect(all.uploads.slice(0, 2).map((u) => u.uploadId).sort()).toEqual([first, second].sort())
    const rolled = await backend.listMultipartUploads({ bucket: 'bkt', maxUploads: 1000, delimiter: '/' })
    expect(rolled.commonPrefixes).toEqual(['a/'])
    expect(rolled.uploads.map((u) => u.key)).toEqual(['b'])
    const paged = await backend.listMultipartUploads({ bucket: 'bkt', maxUploads: 1, prefix: 'a/' })
    expect(paged.isTruncated).toBe(true)
    const next = await backend.listMultipartUploads({
      bucket: 'bkt',
      maxUploads: 1000,
      prefix: 'a/',
      keyMarker: paged.nextKeyMarker,
      uploadIdMarker: paged.nextUploadIdMarker,
    })
    expect(next.uploads.map((u) => u.key)).toEqual(['a/1', 'a/2'])
  })

  it('an empty single part gives an empty object', async () => {
    const uploadId = await backend.createMultipartUpload('bkt', 'empty', META)
    const a = await upload(uploadId, 1, Buffer.alloc(0), 'empty')
    await backend.completeMultipartUpload({ bucket: 'bkt', key: 'empty', uploadId, parts: [{ partNumber: 1, etag: a.etag }] })
    expect((await backend.headObject('bkt', 'empty')).size).toBe(0)
  })
})

describe('disk CopyObject', () => {
  it('copies bytes with the source\'s metadata (COPY) or new metadata (REPLACE), with S3\'s errors', async () => {
    const data = randomBytes(300_000)
    await backend.putObject({ bucket: 'bkt', key: 'src', body: chunks(data), contentLength: data.length, metadata: META })
    await backend.createBucket('other')
    const copied = await backend.copyObject({ source: { bucket: 'bkt', key: 'src' }, bucket: 'other', key: 'a b+ü' })
    expect(copied.etag).toBe(`"${md5(data).toString('hex')}"`)
    const got = await backend.getObject({ bucket: 'other', key: 'a b+ü' })
    expect(got.metadata).toEqual(META)
    expect(got.lastModified).toEqual(copied.lastModified)
    expect((await collect(got.body)).equals(data)).toBe(true)
    const replaced: ObjectMetadata = { headers: {}, user: { other: 'x' } }
    await backend.copyObject({ source: { bucket: 'bkt', key: 'src' }, bucket: 'bkt', key: 'src', metadata: replaced })
    expect((await backend.headObject('bkt', 'src')).metadata).toEqual(replaced)
    const copy = (more: Partial<Parameters<Backend['copyObject']>[0]>) =>
      backend.copyObject({ source: { bucket: 'bkt', key: 'src' }, bucket: 'bkt', key: 'dst', ...more })
    expect(await code(copy({ sourceConditions: { ifMatch: '"nope"' } }))).toBe('PreconditionFailed')
    expect(await code(copy({ sourceConditions: { ifNoneMatch: copied.etag } }))).toBe('PreconditionFailed')
    expect(await code(copy({ source: { bucket: 'bkt', key: 'missing' } }))).toBe('NoSuchKey')
    expect(await code(copy({ bucket: 'nope' }))).toBe('NoSuchBucket')
    expect(await code(backend.headObject('bkt', 'dst'))).toBe('NoSuchKey')
  })
})
