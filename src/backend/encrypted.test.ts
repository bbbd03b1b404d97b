/**
 * @module backend/encrypted.test
 * The encrypting decorator over the disk store (in-process, real files): multipart uploads, reads of
 * multipart objects, the reserved key space and listings. A spy on the inner backend shows which
 * upstream requests each client operation costs. End-to-end runs through the gateway process, on
 * disk and on RGW, are in test/integration/multipart.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { plaintextSize, storedSize } from '../crypto/format.js'
import { createKeyring } from '../crypto/keyring.js'
import { nodePlatform } from '../platform/node.js'
import { S3Error } from '../s3/errors.js'
import { INTERNAL_PREFIX } from './encrypted-multipart.js'
import { createEncryptedBackend } from './encrypted.js'
import { createFilesystemBackend } from './filesystem.js'
import type { Backend, ObjectMetadata, RangeSpec } from './types.js'
import { chunks as chunksOf, collect, s3ErrorCode as code } from '../../test/helpers/streams.js'

const MiB = 1024 * 1024
const S = 65536
const META: ObjectMetadata = { headers: { contentType: 'text/x-test' }, user: { color: 'blue' } }

let root: string
let raw: Backend
let calls: string[]
let inner: Backend
let gw: Backend

/** Records every inner call as `method` or `method:key`. */
function spy(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, name: keyof Backend) {
      const value = target[name]
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        const first = args[0] as { key?: string } | string
        const key = typeof first === 'object' ? first.key : typeof args[1] === 'string' ? args[1] : undefined
        calls.push(key === undefined ? name : `${name}:${key}`)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
}

async function gateway(): Promise<Backend> {
  const keyring = await createKeyring(nodePlatform, { current: 'k1', keys: [{ id: 'k1', material: new Uint8Array(32).fill(7) }] })
  return createEncryptedBackend(inner, { platform: nodePlatform, keyring, plaintextBuckets: ['plain'] })
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 's3veil-enc-'))
  raw = await createFilesystemBackend({ dataDir: join(root, 'data'), fsync: false })
  calls = []
  inner = spy(raw)
  gw = await gateway()
  await raw.createBucket('bkt')
  await raw.createBucket('plain')
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

// Pieces of 100 000 bytes: deliberately off the 64 KiB segment grid.
const chunks = (data: Uint8Array) => chunksOf(data, 100_000)

/** Uploads `parts` (plaintext) as parts 1..n (or the given numbers) through `via` and completes. */
async function multipart(key: string, parts: Buffer[], opts: { via?: Backend[]; numbers?: number[] } = {}) {
  const via = opts.via ?? [gw]
  const numbers = opts.numbers ?? parts.map((_, i) => i + 1)
  const uploadId = await via[0]!.createMultipartUpload('bkt', key, META)
  const etags: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const b = via[(i + 1) % via.length]!
    const data = parts[i]!
    etags.push((await b.uploadPart({ bucket: 'bkt', key, uploadId, partNumber: numbers[i]!, body: chunks(data), contentLength: data.length })).etag)
  }
  const list = numbers.map((partNumber, i) => ({ partNumber, etag: etags[i]! }))
  const result = await via[via.length - 1]!.completeMultipartUpload({ bucket: 'bkt', key, uploadId, parts: list })
  return { uploadId, etag: result.etag, data: Buffer.concat(parts) }
}

async function read(key: string, range?: RangeSpec, via = gw): Promise<Buffer> {
  return collect((await via.getObject({ bucket: 'bkt', key, range })).body)
}

async function internalKeys(): Promise<string[]> {
  const page = await raw.listObjects({ bucket: 'bkt', maxKeys: 1000, prefix: INTERNAL_PREFIX })
  return page.objects.map((o) => o.key)
}

describe('multipart uploads through the encrypting decorator', () => {
  it('stores ciphertext of the canonical size and reads it back whole, with client sizes and metadata', async () => {
    const parts = [randomBytes(5 * MiB + 1), randomBytes(5 * MiB + 1), randomBytes(3)]
    const { etag, data } = await multipart('obj', parts)
    expect(etag).toMatch(/^"[0-9a-f]{32}-3"$/)
    const stored = await raw.headObject('bkt', 'obj')
    expect(stored.size).toBe(storedSize(data.length))
    expect(plaintextSize(stored.size)).toBe(data.length)
    const stream = await raw.getObject({ bucket: 'bkt', key: 'obj' })
    expect((await collect(stream.body)).includes(parts[1]!.subarray(0, 64))).toBe(false)
    const head = await gw.headObject('bkt', 'obj')
    expect(head).toMatchObject({ size: data.length, etag, metadata: META })
    expect((await read('obj')).equals(data)).toBe(true)
    expect(await internalKeys()).toEqual([])
    const listed = await gw.listObjects({ bucket: 'bkt', maxKeys: 1000 })
    expect(listed.objects.map((o) => [o.key, o.size, o.etag])).toEqual([['obj', data.length, etag]])
  })

  it('serves ranges across part boundaries, suffixes and misaligned parts with at most one manifest read', async () => {
    // Parts of 5 MiB + 1: every later part is off the 64 KiB grid.
    const parts = [randomBytes(5 * MiB + 1), randomBytes(5 * MiB + 1), randomBytes(S + 1)]
    const { data } = await multipart('obj', parts)
    const boundary = 5 * MiB + 1
    const cases: [RangeSpec, number, number][] = [
      [{ start: 0, end: 99 }, 0, 99],
      [{ start: boundary - 10, end: boundary + 10 }, boundary - 10, boundary + 10],
      [{ start: 2 * boundary - S, end: 2 * boundary + S }, 2 * boundary - S, 2 * boundary + S],
      [{ start: data.length - 5 }, data.length - 5, data.length - 1],
      [{ suffix: S + 7 }, data.length - S - 7, data.length - 1],
      [{ suffix: 1 }, data.length - 1, data.length - 1],
      [{ start: 12345, end: data.length * 2 }, 12345, data.length - 1],
    ]
    calls = []
    for (const [spec, from, to] of cases) {
      const got = await gw.getObject({ bucket: 'bkt', key: 'obj', range: spec })
      expect(got.range).toEqual({ start: from, end: to })
      expect((await collect(got.body)).equals(data.subarray(from, to + 1))).toBe(true)
    }
    // One trailer read in all (a suffix read), then the cache; misaligned ranges refetch once each.
    const suffixReads = calls.filter((c) => c === 'getObject:obj').length
    expect(suffixReads).toBeLessThanOrEqual(cases.length * 2 + 1)
    const gw2 = await gateway()
    calls = []
    expect((await read('obj', { start: 0, end: 9 }, gw2)).equals(data.subarray(0, 10))).toBe(true)
    expect(calls).toEqual(['getObject:obj', 'getObject:obj'])
    calls = []
    expect((await read('obj', { start: 10, end: 19 }, gw2)).equals(data.subarray(10, 20))).toBe(true)
    expect(calls).toEqual(['getObject:obj'])
  })

  it('aligned parts (multiples of 64 KiB) read a range with one upstream request once the manifest is cached', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)]
    const { data } = await multipart('aligned', parts)
    await read('aligned', { start: 0, end: 0 })
    calls = []
    const from = 5 * MiB - 100
    expect((await read('aligned', { start: from, end: from + 200 })).equals(data.subarray(from, from + 201))).toBe(true)
    expect(calls).toEqual(['getObject:aligned'])
  })

  it('partNumber reads one part by position (gaps in the numbering too), from the cached manifest', async () => {
    const parts = [randomBytes(5 * MiB + 1), randomBytes(5 * MiB + 7), randomBytes(1000)]
    const { data } = await multipart('parts', parts, { numbers: [2, 5, 9] })
    let offset = 0
    calls = []
    for (let n = 1; n <= parts.length; n++) {
      const got = await gw.getObject({ bucket: 'bkt', key: 'parts', partNumber: n })
      const range = { start: offset, end: offset + parts[n - 1]!.length - 1 }
      expect(got).toMatchObject({ size: data.length, range, partsCount: 3 })
      expect((await collect(got.body)).equals(parts[n - 1]!)).toBe(true)
      expect(await gw.headObject('bkt', 'parts', undefined, n)).toMatchObject({ size: data.length, range, partsCount: 3 })
      offset += parts[n - 1]!.length
    }
    // One manifest read (a suffix GET) for all of them; then a HEAD and one GET per part read.
    expect(calls.filter((c) => c === 'getObject:parts')).toHaveLength(parts.length + 1)
    const past = gw.getObject({ bucket: 'bkt', key: 'parts', partNumber: 4 })
    await expect(past).rejects.toMatchObject({ code: 'InvalidPartNumber', fields: { PartNumberRequested: 4, ActualPartCount: 3 } })
    await expect(gw.headObject('bkt', 'parts', undefined, 4)).rejects.toMatchObject({ code: 'InvalidPartNumber' })
  })

  it('partNumber 1 of a single-PUT object is all of it, with no parts count; 2 is InvalidPartNumber', async () => {
    const data = randomBytes(3 * S + 5)
    await gw.putObject({ bucket: 'bkt', key: 'single', body: chunks(data), contentLength: data.length, metadata: META })
    const got = await gw.getObject({ bucket: 'bkt', key: 'single', partNumber: 1 })
    expect(got.range).toEqual({ start: 0, end: data.length - 1 })
    expect(got.partsCount).toBeUndefined()
    expect((await collect(got.body)).equals(data)).toBe(true)
    expect(await code(gw.getObject({ bucket: 'bkt', key: 'single', partNumber: 2 }))).toBe('InvalidPartNumber')
    const conditional = gw.getObject({ bucket: 'bkt', key: 'single', partNumber: 1, conditions: { ifNoneMatch: got.etag } })
    expect(await code(conditional)).toBe('NotModified')
    // An empty last part is an empty range, read without touching the body.
    await multipart('empty-last', [randomBytes(5 * MiB), Buffer.alloc(0)])
    const empty = await gw.getObject({ bucket: 'bkt', key: 'empty-last', partNumber: 2 })
    expect(empty).toMatchObject({ range: { start: 5 * MiB, end: 5 * MiB - 1 }, partsCount: 2 })
    expect((await collect(empty.body)).length).toBe(0)
    // Plaintext buckets pass the read to the store, which knows its own part sizes.
    const plain = Buffer.from('plain bytes')
    await gw.putObject({ bucket: 'plain', key: 'p', body: chunks(plain), contentLength: plain.length, metadata: META })
    const passed = await gw.getObject({ bucket: 'plain', key: 'p', partNumber: 1 })
    expect((await collect(passed.body)).toString()).toBe('plain bytes')
    expect(await code(gw.headObject('plain', 'p', undefined, 2))).toBe('InvalidPartNumber')
  })

  it('keeps a small part aside until Complete, reports plaintext sizes, and removes internal objects after', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const big = randomBytes(5 * MiB)
    const small = randomBytes(1000)
    const e1 = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 1, body: chunks(big), contentLength: big.length })).etag
    const e2 = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 2, body: chunks(small), contentLength: small.length })).etag
    expect((await internalKeys()).length).toBe(2) // record and the kept-aside part
    // Not the MD5 of what the client sent, so marked as such: s3cmd retries a part whose ETag is a bare
    // hex digest other than the MD5 of the part.
    for (const [etag, data] of [[e1, big], [e2, small]] as const) {
      expect(etag).toMatch(/^"[0-9a-f]{32}-1"$/)
      expect(etag).not.toContain(createHash('md5').update(data).digest('hex'))
    }
    expect((await gw.listObjects({ bucket: 'bkt', maxKeys: 1000 })).objects).toEqual([])
    const parts = await gw.listParts({ bucket: 'bkt', key: 'k', uploadId, maxParts: 1000 })
    expect(parts.parts.map((p) => [p.partNumber, p.size, p.etag])).toEqual([
      [1, big.length, e1],
      [2, small.length, e2],
    ])
    expect((await gw.listParts({ bucket: 'bkt', key: 'k', uploadId, maxParts: 1 })).nextPartNumberMarker).toBe(1)
    const uploads = await gw.listMultipartUploads({ bucket: 'bkt', maxUploads: 1000 })
    expect(uploads.uploads.map((u) => u.key)).toEqual(['k'])
    await gw.completeMultipartUpload({ bucket: 'bkt', key: 'k', uploadId, parts: [{ partNumber: 1, etag: e1 }, { partNumber: 2, etag: e2 }] })
    expect(await internalKeys()).toEqual([])
    expect((await read('k')).equals(Buffer.concat([big, small]))).toBe(true)
  })

  it('Complete also takes the inner part ETags older versions answered (uploads begun before an upgrade)', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const big = randomBytes(5 * MiB)
    const small = randomBytes(10)
    const e1 = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 1, body: chunks(big), contentLength: big.length })).etag
    const e2 = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 2, body: chunks(small), contentLength: small.length })).etag
    const inner = (etag: string) => etag.replace(/-1"$/, '"')
    const parts = [{ partNumber: 1, etag: inner(e1) }, { partNumber: 2, etag: inner(e2) }]
    await gw.completeMultipartUpload({ bucket: 'bkt', key: 'k', uploadId, parts })
    expect((await read('k')).equals(Buffer.concat([big, small]))).toBe(true)
  })

  it('a re-uploaded part wins, across size classes too', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const up = (n: number, data: Buffer) =>
      gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: n, body: chunks(data), contentLength: data.length })
    await up(1, randomBytes(100))
    const big = randomBytes(5 * MiB)
    const e1 = (await up(1, big)).etag // replaces the kept-aside copy
    expect((await internalKeys()).filter((k) => k.includes('/part/'))).toEqual([])
    await up(2, randomBytes(5 * MiB))
    const last = randomBytes(77)
    const e2 = (await up(2, last)).etag // small after large: both exist, the later one is listed
    const listed = await gw.listParts({ bucket: 'bkt', key: 'k', uploadId, maxParts: 1000 })
    expect(listed.parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, 5 * MiB],
      [2, 77],
    ])
    await gw.completeMultipartUpload({ bucket: 'bkt', key: 'k', uploadId, parts: [{ partNumber: 1, etag: e1 }, { partNumber: 2, etag: e2 }] })
    expect((await read('k')).equals(Buffer.concat([big, last]))).toBe(true)
  })

  it('checks the part list as S3 does before touching the upstream upload, and the upload survives', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const up = async (n: number, size: number) =>
      (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: n, body: chunks(randomBytes(size)), contentLength: size })).etag
    const e1 = await up(1, MiB)
    const e2 = await up(2, MiB)
    const e3 = await up(3, 5 * MiB)
    calls = []
    const complete = (parts: { partNumber: number; etag: string }[]) => gw.completeMultipartUpload({ bucket: 'bkt', key: 'k', uploadId, parts })
    expect(await code(complete([{ partNumber: 3, etag: e3 }, { partNumber: 1, etag: e1 }]))).toBe('InvalidPartOrder')
    expect(await code(complete([{ partNumber: 1, etag: e2 }]))).toBe('InvalidPart')
    expect(await code(complete([{ partNumber: 4, etag: e1 }]))).toBe('InvalidPart')
    const tooSmall = await complete([{ partNumber: 1, etag: e1 }, { partNumber: 3, etag: e3 }]).catch((err: S3Error) => err)
    expect(tooSmall).toMatchObject({ code: 'EntityTooSmall', fields: { ProposedSize: MiB, MinSizeAllowed: 5 * MiB, PartNumber: 1 } })
    expect(calls.filter((c) => c.startsWith('uploadPart') || c.startsWith('completeMultipartUpload'))).toEqual([])
    // A single small part is fine (BH-36).
    await complete([{ partNumber: 2, etag: e2 }])
    expect((await gw.headObject('bkt', 'k')).size).toBe(MiB)
    expect(await internalKeys()).toEqual([])
  })

  it('abort removes everything; abort again, complete or a part afterwards are NoSuchUpload', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const e = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 1, body: chunks(Buffer.from('x')), contentLength: 1 })).etag
    await gw.abortMultipartUpload({ bucket: 'bkt', key: 'k', uploadId })
    expect(await internalKeys()).toEqual([])
    expect((await raw.listMultipartUploads({ bucket: 'bkt', maxUploads: 1000 })).uploads).toEqual([])
    expect(await code(gw.abortMultipartUpload({ bucket: 'bkt', key: 'k', uploadId }))).toBe('NoSuchUpload')
    expect(await code(gw.completeMultipartUpload({ bucket: 'bkt', key: 'k', uploadId, parts: [{ partNumber: 1, etag: e }] }))).toBe(
      'NoSuchUpload'
    )
    const part = gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 1, body: chunks(Buffer.from('x')), contentLength: 1 })
    expect(await code(part)).toBe('NoSuchUpload')
    expect(await code(gw.listParts({ bucket: 'bkt', key: 'k', uploadId, maxParts: 10 }))).toBe('NoSuchUpload')
  })

  it('an upload id belongs to its key; part 10000 of 5 MiB or more is refused; small part 10000 works', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const other = gw.uploadPart({ bucket: 'bkt', key: 'other', uploadId, partNumber: 1, body: chunks(Buffer.from('x')), contentLength: 1 })
    expect(await code(other)).toBe('NoSuchUpload')
    const big = randomBytes(5 * MiB)
    const refused = await gw
      .uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 10000, body: chunks(big), contentLength: big.length })
      .catch((err: S3Error) => err)
    expect(refused).toMatchObject({ code: 'InvalidArgument', fields: { ArgumentName: 'partNumber' } })
    const e1 = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 1, body: chunks(big), contentLength: big.length })).etag
    const tail = randomBytes(10)
    const e2 = (await gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 10000, body: chunks(tail), contentLength: 10 })).etag
    await gw.completeMultipartUpload({ bucket: 'bkt', key: 'k', uploadId, parts: [{ partNumber: 1, etag: e1 }, { partNumber: 10000, etag: e2 }] })
    expect((await read('k')).equals(Buffer.concat([big, tail]))).toBe(true)
  })

  it('is stateless: create, parts and complete on different instances', async () => {
    const others = [await gateway(), await gateway(), await gateway()]
    const { data } = await multipart('spread', [randomBytes(5 * MiB), randomBytes(5 * MiB + 3), randomBytes(9)], { via: others })
    expect((await read('spread', undefined, others[1])).equals(data)).toBe(true)
  })

  it('a Complete whose upstream answer was lost is answered again on retry, and cleans up', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(10)]
    const uploadId = await gw.createMultipartUpload('bkt', 'lost', META)
    const etags: string[] = []
    for (const [i, data] of parts.entries()) {
      const input = { bucket: 'bkt', key: 'lost', uploadId, partNumber: i + 1, body: chunks(data), contentLength: data.length }
      etags.push((await gw.uploadPart(input)).etag)
    }
    // The store completes the upload, but the answer never arrives.
    inner = {
      ...raw,
      async completeMultipartUpload(input) {
        await raw.completeMultipartUpload(input)
        throw new S3Error('ServiceUnavailable')
      },
    }
    const losing = await gateway()
    const list = etags.map((etag, i) => ({ partNumber: i + 1, etag }))
    expect(await code(losing.completeMultipartUpload({ bucket: 'bkt', key: 'lost', uploadId, parts: list }))).toBe('ServiceUnavailable')
    expect(await internalKeys()).not.toEqual([])
    const again = await gw.completeMultipartUpload({ bucket: 'bkt', key: 'lost', uploadId, parts: list })
    expect(again.etag).toBe((await gw.headObject('bkt', 'lost')).etag)
    expect((await read('lost')).equals(Buffer.concat(parts))).toBe(true)
    expect(await internalKeys()).toEqual([])
    // Another upload's record never claims an object it did not write.
    const other = await gw.createMultipartUpload('bkt', 'lost', META)
    await raw.abortMultipartUpload({ bucket: 'bkt', key: 'lost', uploadId: other })
    expect(await code(gw.completeMultipartUpload({ bucket: 'bkt', key: 'lost', uploadId: other, parts: list }))).toBe('NoSuchUpload')
  })

  it('an empty multipart object and a single part of one byte', async () => {
    await multipart('empty', [Buffer.alloc(0)])
    expect((await gw.headObject('bkt', 'empty')).size).toBe(0)
    expect((await read('empty')).length).toBe(0)
    const { data } = await multipart('one', [Buffer.from('z')])
    expect((await read('one')).equals(data)).toBe(true)
    expect((await raw.headObject('bkt', 'one')).size).toBe(storedSize(1))
  })

  it('a part body of the wrong length is IncompleteBody and stores nothing', async () => {
    const uploadId = await gw.createMultipartUpload('bkt', 'k', META)
    const short = gw.uploadPart({ bucket: 'bkt', key: 'k', uploadId, partNumber: 1, body: chunks(Buffer.from('abc')), contentLength: 5 })
    expect(await code(short)).toBe('IncompleteBody')
    expect((await gw.listParts({ bucket: 'bkt', key: 'k', uploadId, maxParts: 10 })).parts).toEqual([])
  })
})

describe('the reserved key space', () => {
  it('refuses client keys under .s3veil/ in encrypted buckets, but not in plaintext ones', async () => {
    const key = '.s3veil/uploads/x/record'
    expect(await code(gw.putObject({ bucket: 'bkt', key, body: chunks(Buffer.from('x')), contentLength: 1, metadata: META }))).toBe(
      'InvalidArgument'
    )
    expect(await code(gw.getObject({ bucket: 'bkt', key }))).toBe('InvalidArgument')
    expect(await code(gw.headObject('bkt', key))).toBe('InvalidArgument')
    expect(await code(gw.deleteObject('bkt', key))).toBe('InvalidArgument')
    expect(await code(gw.createMultipartUpload('bkt', key, META))).toBe('InvalidArgument')
    const deleted = await gw.deleteObjects('bkt', [key, 'fine'])
    expect(deleted.deleted).toEqual(['fine'])
    expect(deleted.errors).toMatchObject([{ key, code: 'InvalidArgument' }])
    await gw.putObject({ bucket: 'plain', key, body: chunks(Buffer.from('x')), contentLength: 1, metadata: META })
    expect((await gw.headObject('plain', key)).size).toBe(1)
  })

  it('hides internal keys from listings and tops pages up so paging still reaches every key', async () => {
    const put = (key: string) => gw.putObject({ bucket: 'bkt', key, body: chunks(Buffer.from(key)), contentLength: key.length, metadata: META })
    for (const key of ['.a', '.s3veil', '.s3veim', 'b/1', 'c']) await put(key)
    for (let i = 0; i < 4; i++) await gw.createMultipartUpload('bkt', `u${i}`, META)
    expect((await internalKeys()).length).toBe(4)
    const expected = ['.a', '.s3veil', '.s3veim', 'b/1', 'c']
    for (const maxKeys of [1, 2, 3, 1000]) {
      for (const version of ['v1', 'v2'] as const) {
        const seen: string[] = []
        let marker: string | undefined = version === 'v1' ? '' : undefined
        let token: string | undefined
        for (let pages = 0; pages < 20; pages++) {
          const page = await gw.listObjects({ bucket: 'bkt', maxKeys, marker, continuationToken: token })
          expect(page.objects.length).toBeGreaterThan(0)
          seen.push(...page.objects.map((o) => o.key))
          if (!page.isTruncated) break
          if (version === 'v1') marker = page.objects.at(-1)!.key
          else token = page.nextContinuationToken
        }
        expect(seen, `${version} max-keys ${maxKeys}`).toEqual(expected)
      }
    }
    const rolled = await gw.listObjects({ bucket: 'bkt', maxKeys: 1000, delimiter: '/' })
    expect(rolled.commonPrefixes).toEqual(['b/'])
    expect((await gw.listObjects({ bucket: 'bkt', maxKeys: 1000, prefix: '.s3veil/' })).objects).toEqual([])
    expect((await gw.listObjects({ bucket: 'bkt', maxKeys: 1000, prefix: '.s3' })).objects.map((o) => o.key)).toEqual(['.s3veil', '.s3veim'])
  })
})

describe('CopyObject through the encrypting decorator', () => {
  const put = (bucket: string, key: string, data: Buffer, metadata = META) =>
    gw.putObject({ bucket, key, body: chunks(data), contentLength: data.length, metadata })

  it('between encrypted buckets: a byte copy with the key re-wrapped, COPY keeps metadata', async () => {
    await raw.createBucket('other')
    const data = randomBytes(70_000)
    await put('bkt', 'src', data)
    calls = []
    const copied = await gw.copyObject({ source: { bucket: 'bkt', key: 'src' }, bucket: 'other', key: 'dst key ü+' })
    expect(calls.filter((c) => c.startsWith('getObject') || c.startsWith('putObject'))).toEqual([])
    expect(copied.etag).toMatch(/^"[0-9a-f]{32}-1"$/)
    const [srcBytes, dstBytes] = await Promise.all([
      raw.getObject({ bucket: 'bkt', key: 'src' }).then((o) => collect(o.body)),
      raw.getObject({ bucket: 'other', key: 'dst key ü+' }).then((o) => collect(o.body)),
    ])
    expect(dstBytes.equals(srcBytes)).toBe(true)
    const stored = await raw.headObject('other', 'dst key ü+')
    const source = await raw.headObject('bkt', 'src')
    expect(stored.metadata.user['s3veil-dek']).not.toBe(source.metadata.user['s3veil-dek'])
    expect(stored.metadata.user['s3veil-oid']).toBe(source.metadata.user['s3veil-oid'])
    const got = await gw.getObject({ bucket: 'other', key: 'dst key ü+' })
    expect(got.metadata).toEqual(META)
    expect((await collect(got.body)).equals(data)).toBe(true)
  })

  it('REPLACE sets new metadata; copying onto itself with REPLACE re-wraps in place', async () => {
    const data = randomBytes(1000)
    await put('bkt', 'self', data)
    const replaced: ObjectMetadata = { headers: { contentType: 'image/png' }, user: { shade: 'dark' } }
    await gw.copyObject({ source: { bucket: 'bkt', key: 'self' }, bucket: 'bkt', key: 'self', metadata: replaced })
    const got = await gw.getObject({ bucket: 'bkt', key: 'self' })
    expect(got.metadata).toEqual(replaced)
    expect((await collect(got.body)).equals(data)).toBe(true)
  })

  it('copies multipart objects (manifest and all) and keeps them range-readable', async () => {
    const { data } = await multipart('mp', [randomBytes(5 * MiB + 1), randomBytes(100)])
    await gw.copyObject({ source: { bucket: 'bkt', key: 'mp' }, bucket: 'bkt', key: 'mp-copy' })
    expect((await read('mp-copy')).equals(data)).toBe(true)
    expect((await read('mp-copy', { suffix: 50 })).equals(data.subarray(data.length - 50))).toBe(true)
  })

  it('source conditions fail with PreconditionFailed, never NotModified', async () => {
    await put('bkt', 'src', Buffer.from('x'))
    const { etag } = await gw.headObject('bkt', 'src')
    const copy = (sourceConditions: Parameters<Backend['copyObject']>[0]['sourceConditions']) =>
      gw.copyObject({ source: { bucket: 'bkt', key: 'src' }, bucket: 'bkt', key: 'dst', sourceConditions })
    expect(await code(copy({ ifMatch: '"nope"' }))).toBe('PreconditionFailed')
    expect(await code(copy({ ifNoneMatch: etag }))).toBe('PreconditionFailed')
    expect(await code(copy({ ifModifiedSince: new Date(Date.now() + 60_000) }))).toBe('PreconditionFailed')
    await copy({ ifMatch: etag, ifUnmodifiedSince: new Date(0) })
    expect((await read('dst')).toString()).toBe('x')
  })

  it('between an encrypted and a plaintext bucket the bytes are re-encoded through the gateway', async () => {
    const data = randomBytes(5000)
    await put('bkt', 'secret', data)
    await gw.copyObject({ source: { bucket: 'bkt', key: 'secret' }, bucket: 'plain', key: 'open' })
    expect((await collect((await raw.getObject({ bucket: 'plain', key: 'open' })).body)).equals(data)).toBe(true)
    await gw.copyObject({ source: { bucket: 'plain', key: 'open' }, bucket: 'bkt', key: 'closed' })
    expect((await raw.headObject('bkt', 'closed')).size).toBe(storedSize(data.length))
    expect((await read('closed')).equals(data)).toBe(true)
  })

  it('refuses reserved keys as source or destination', async () => {
    await put('bkt', 'src', Buffer.from('x'))
    expect(await code(gw.copyObject({ source: { bucket: 'bkt', key: 'src' }, bucket: 'bkt', key: '.s3veil/x' }))).toBe('InvalidArgument')
    expect(await code(gw.copyObject({ source: { bucket: 'bkt', key: '.s3veil/x' }, bucket: 'bkt', key: 'y' }))).toBe('InvalidArgument')
  })
})
