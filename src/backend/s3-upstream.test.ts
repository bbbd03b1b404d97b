/**
 * @module backend/s3-upstream.test
 * The S3 upstream backend against a real Ceph RADOS Gateway on 127.0.0.1 (test/helpers/rgw.ts):
 * no mocks. Deviations of RGW 16 from AWS are noted where a test depends on them.
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests, freePort } from '../../test/helpers/rgw.js'
import type { ByteSource } from '../platform/types.js'
import { S3Error } from '../s3/errors.js'
import { createS3UpstreamBackend } from './s3-upstream-node.js'
import type { Backend, ObjectMetadata, PutObjectInput, PutObjectOutput } from './types.js'

const rgw = await rgwForTests()

const MiB = 1 << 20
const EMPTY_META: ObjectMetadata = { headers: {}, user: {} }

async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk
}

/** `data` in chunks of `size` bytes. */
async function* chunked(data: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size)
}

async function collect(body: ByteSource): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of body) parts.push(chunk)
  return Buffer.concat(parts)
}

function md5Etag(data: Uint8Array): string {
  return `"${createHash('md5').update(data).digest('hex')}"`
}

async function s3Error(promise: Promise<unknown>): Promise<S3Error> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error)
    return err as S3Error
  }
  throw new Error('expected an S3Error, but the call succeeded')
}

/** Everything a client could see of an error. */
function visible(err: S3Error): string {
  return JSON.stringify({ message: err.message, fields: err.fields, headers: err.headers, code: err.code })
}

describe.skipIf(!rgw)('S3 upstream backend on Ceph RGW', () => {
  const conn = rgw!
  const bucket = `s3veil-up-${randomBytes(4).toString('hex')}`
  let backend: Backend

  beforeAll(async () => {
    backend = createS3UpstreamBackend({
      endpoint: conn.endpoint,
      region: conn.region,
      credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
    })
    await backend.createBucket(bucket)
  })

  afterAll(async () => {
    if (backend) {
      for (const b of await backend.listBuckets()) {
        if (!b.name.startsWith(bucket)) continue
        let page = await backend.listObjects({ bucket: b.name, maxKeys: 1000 })
        for (;;) {
          await backend.deleteObjects(b.name, page.objects.map((o) => o.key))
          if (!page.isTruncated) break
          const continuationToken = page.nextContinuationToken
          page = await backend.listObjects({ bucket: b.name, maxKeys: 1000, continuationToken })
        }
        await backend.deleteBucket(b.name)
      }
    }
    await rgw?.release()
  })

  async function put(key: string, data: Uint8Array, metadata: ObjectMetadata = EMPTY_META) {
    return backend.putObject({ bucket, key, body: chunked(data), contentLength: data.byteLength, metadata })
  }

  /** A PUT of `body` declared as `contentLength` bytes (into our bucket, through `backend`, by default). */
  function putFrom(
    key: string,
    body: ByteSource,
    contentLength: number,
    more: Partial<PutObjectInput> & { via?: Backend } = {}
  ): Promise<PutObjectOutput> {
    const { via = backend, ...rest } = more
    return via.putObject({ bucket, key, body, contentLength, metadata: EMPTY_META, ...rest })
  }

  describe('buckets', () => {
    it('creates, lists, heads, locates and deletes a bucket', async () => {
      const name = `${bucket}-b`
      const before = Date.now()
      await backend.createBucket(name)
      const listed = (await backend.listBuckets()).find((b) => b.name === name)
      expect(listed).toBeDefined()
      expect(listed!.creationDate).toBeInstanceOf(Date)
      expect(Math.abs(listed!.creationDate.getTime() - before)).toBeLessThan(60_000)
      await expect(backend.headBucket(name)).resolves.toBeUndefined()
      // RGW answers its zonegroup name ("default") where AWS answers '' for us-east-1
      expect(typeof (await backend.getBucketLocation(name))).toBe('string')
      await backend.deleteBucket(name)
      expect((await backend.listBuckets()).some((b) => b.name === name)).toBe(false)
    })

    it('maps a missing bucket to NoSuchBucket for HEAD (no body) and the other calls', async () => {
      const missing = `${bucket}-missing`
      for (const call of [
        () => backend.headBucket(missing),
        () => backend.deleteBucket(missing),
        () => backend.getBucketLocation(missing),
        () => backend.listObjects({ bucket: missing, maxKeys: 10 }),
        () => backend.listObjects({ bucket: missing, maxKeys: 10, marker: '' }),
        () => backend.deleteObject(missing, 'k'),
        () => backend.deleteObjects(missing, ['k']),
        () => backend.getObject({ bucket: missing, key: 'k' }),
        // HEAD's 404 has no body: the bucket is asked (a copy's source check is built on this HEAD)
        () => backend.headObject(missing, 'k'),
      ]) {
        const err = await s3Error(call())
        expect(err.code).toBe('NoSuchBucket')
        expect(err.status).toBe(404)
      }
      expect((await s3Error(backend.headObject(bucket, 'no/such/key'))).code).toBe('NoSuchKey')
    })

    it('refuses to delete a non-empty bucket and rejects invalid names', async () => {
      const name = `${bucket}-full`
      await backend.createBucket(name)
      await putFrom('x', chunksOf(Buffer.from('x')), 1, { bucket: name })
      expect((await s3Error(backend.deleteBucket(name))).code).toBe('BucketNotEmpty')
      await backend.deleteObject(name, 'x')
      await backend.deleteBucket(name)
      expect((await s3Error(backend.createBucket('Not_A_Valid_Bucket'))).code).toBe('InvalidBucketName')
    })

    it('creating an existing own bucket succeeds or says BucketAlreadyOwnedByYou', async () => {
      // RGW (like us-east-1 S3) answers 200; other regions answer 409 BucketAlreadyOwnedByYou
      const result = await backend.createBucket(bucket).then(
        () => 'ok',
        (err: S3Error) => err.code
      )
      expect(['ok', 'BucketAlreadyOwnedByYou']).toContain(result)
    })

    it('sends the configured region as LocationConstraint outside us-east-1', async () => {
      const west = createS3UpstreamBackend({
        endpoint: conn.endpoint,
        region: 'us-west-2',
        credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
      })
      // RGW's only zonegroup is "default", so it refuses the constraint: proof that it was sent.
      // Its InvalidLocationConstraint code is not ours: mapped by status to InvalidRequest.
      const err = await s3Error(west.createBucket(`${bucket}-west`))
      expect(err.status).toBe(400)
      expect(err.code).toBe('InvalidRequest')
    })
  })

  describe('objects', () => {
    it('round-trips body, ETag, content headers and user metadata', async () => {
      const data = randomBytes(3 * MiB + 17)
      const metadata: ObjectMetadata = {
        headers: {
          contentType: 'text/plain; charset=utf-8',
          cacheControl: 'max-age=60',
          contentDisposition: 'attachment; filename="a b.txt"',
          contentEncoding: 'identity',
          contentLanguage: 'de-CH',
          expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
        },
        user: { color: 'blue', 'multi-word': 'a b c', mixedcase: 'KeepsValueCase' },
      }
      const { etag } = await put('dir/round trip+ü.bin', data, metadata)
      expect(etag).toBe(md5Etag(data))

      const head = await backend.headObject(bucket, 'dir/round trip+ü.bin')
      expect(head).toMatchObject({ key: 'dir/round trip+ü.bin', size: data.byteLength, etag, metadata })
      expect(head.lastModified).toBeInstanceOf(Date)

      const got = await backend.getObject({ bucket, key: 'dir/round trip+ü.bin' })
      expect(got).toMatchObject({ size: data.byteLength, etag, metadata })
      expect(got.range).toBeUndefined()
      expect((await collect(got.body)).equals(data)).toBe(true)
    })

    it('lowercases user metadata names', async () => {
      await put('meta-case', Buffer.from('m'), { headers: {}, user: { 'Upper-Name': 'V' } })
      expect((await backend.headObject(bucket, 'meta-case')).metadata.user).toEqual({ 'upper-name': 'V' })
    })

    it('stores an empty object', async () => {
      const { etag } = await putFrom('empty', chunksOf(), 0)
      expect(etag).toBe(md5Etag(new Uint8Array(0)))
      const got = await backend.getObject({ bucket, key: 'empty' })
      expect(got.size).toBe(0)
      expect((await collect(got.body)).byteLength).toBe(0)
      // Stored without a Content-Type: S3's default, whatever the store's own would be.
      expect(got.metadata.headers.contentType).toBe('binary/octet-stream')
    })

    it('maps a missing key to NoSuchKey', async () => {
      expect((await s3Error(backend.getObject({ bucket, key: 'nope' }))).code).toBe('NoSuchKey')
      const head = await s3Error(backend.headObject(bucket, 'nope'))
      expect(head.code).toBe('NoSuchKey')
      expect(head.status).toBe(404)
    })

    it('deletes objects; deleting a missing key succeeds', async () => {
      await put('to-delete', Buffer.from('x'))
      await backend.deleteObject(bucket, 'to-delete')
      expect((await s3Error(backend.headObject(bucket, 'to-delete'))).code).toBe('NoSuchKey')
      await expect(backend.deleteObject(bucket, 'never-existed')).resolves.toBeUndefined()
    })

    it('deletes more than 1000 keys in batches, missing keys included', async () => {
      const keys = Array.from({ length: 1003 }, (_, i) => `bulk/${String(i).padStart(4, '0')}`)
      await Promise.all(
        keys.slice(0, 40).map((key) => put(key, Buffer.from(key)))
      )
      const out = await backend.deleteObjects(bucket, keys)
      expect(out.errors).toEqual([])
      expect(new Set(out.deleted)).toEqual(new Set(keys))
      const left = await backend.listObjects({ bucket, prefix: 'bulk/', maxKeys: 1000 })
      expect(left.objects).toEqual([])
      expect(await backend.deleteObjects(bucket, [])).toEqual({ deleted: [], errors: [] })
    })
  })

  describe('putObject body failures store nothing', () => {
    it('rejects with the source error after 1 MiB, and the key stays absent', async () => {
      const boom = new Error('signature mismatch in chunk 2')
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(MiB)
        await new Promise((r) => setTimeout(r, 50))
        throw boom
      }
      await expect(putFrom('aborted', failing(), 4 * MiB)).rejects.toBe(boom)
      expect((await s3Error(backend.headObject(bucket, 'aborted'))).code).toBe('NoSuchKey')
    })

    it('rejects with the error thrown after exactly contentLength bytes (a trailing checksum)', async () => {
      const bad = new S3Error('BadDigest')
      async function* lateFailure(): AsyncGenerator<Uint8Array> {
        yield* chunked(randomBytes(2 * MiB))
        throw bad
      }
      await expect(putFrom('late', lateFailure(), 2 * MiB)).rejects.toBe(bad)
      expect((await s3Error(backend.headObject(bucket, 'late'))).code).toBe('NoSuchKey')
    })

    it('leaves an existing object untouched when the replacing body fails', async () => {
      const original = Buffer.from('original contents')
      const { etag } = await put('keep', original)
      const boom = new Error('client went away')
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('new')
        throw boom
      }
      await expect(putFrom('keep', failing(), 100)).rejects.toBe(boom)
      const got = await backend.getObject({ bucket, key: 'keep' })
      expect(got.etag).toBe(etag)
      expect((await collect(got.body)).equals(original)).toBe(true)
    })

    it('rejects a source shorter than contentLength with IncompleteBody', async () => {
      const err = await s3Error(putFrom('short', chunksOf(randomBytes(MiB)), MiB + 1))
      expect(err.code).toBe('IncompleteBody')
      expect((await s3Error(backend.headObject(bucket, 'short'))).code).toBe('NoSuchKey')
    })

    it('rejects a source longer than contentLength with IncompleteBody', async () => {
      const err = await s3Error(putFrom('long', chunksOf(randomBytes(1000), randomBytes(10)), 1000))
      expect(err.code).toBe('IncompleteBody')
      expect((await s3Error(backend.headObject(bucket, 'long'))).code).toBe('NoSuchKey')
    })

    it('releases the source when the upstream refuses mid-body', async () => {
      let released = false
      async function* endless(): AsyncGenerator<Uint8Array> {
        try {
          for (;;) yield new Uint8Array(64 * 1024)
        } finally {
          released = true
        }
      }
      const err = await s3Error(putFrom('k', endless(), 64 * MiB, { bucket: `${bucket}-missing` }))
      expect(err.code).toBe('NoSuchBucket')
      await new Promise((r) => setTimeout(r, 50))
      expect(released).toBe(true)
    })
  })

  describe('conditional writes', () => {
    it('If-None-Match: * creates only', async () => {
      const createOnly = { conditions: { ifNoneMatch: '*' } }
      const first = await putFrom('cond-new', chunksOf(Buffer.from('1')), 1, createOnly)
      expect(first.etag).toBe(md5Etag(Buffer.from('1')))
      const err = await s3Error(putFrom('cond-new', chunksOf(Buffer.from('2')), 1, createOnly))
      expect(err.code).toBe('PreconditionFailed')
      const got = await backend.getObject({ bucket, key: 'cond-new' })
      expect((await collect(got.body)).toString()).toBe('1')
    })

    it('If-Match replaces only the matching object; NoSuchKey when absent', async () => {
      const { etag } = await put('cond-match', Buffer.from('v1'))
      const v2 = () => chunksOf(Buffer.from('v2'))
      const wrong = await s3Error(putFrom('cond-match', v2(), 2, { conditions: { ifMatch: '"0123"' } }))
      expect(wrong.code).toBe('PreconditionFailed')
      // RGW refuses a quoted If-Match on PUT even when it matches: this passes only because it goes unquoted
      const ok = await putFrom('cond-match', v2(), 2, { conditions: { ifMatch: etag } })
      expect(ok.etag).toBe(md5Etag(Buffer.from('v2')))
      // AWS: 404 NoSuchKey (RGW alone would answer 412)
      const absent = await s3Error(putFrom('cond-absent', v2(), 2, { conditions: { ifMatch: etag } }))
      expect(absent.code).toBe('NoSuchKey')
    })
  })

  describe('ranges', () => {
    const data = Buffer.from('0123456789abcdefghij') // 20 bytes

    beforeAll(async () => {
      await put('ranged', data)
    })

    const cases: [string, Parameters<Backend['getObject']>[0]['range'], number, number][] = [
      ['bytes=2-5', { start: 2, end: 5 }, 2, 5],
      ['bytes=15-', { start: 15 }, 15, 19],
      ['bytes=10-999 (clamped)', { start: 10, end: 999 }, 10, 19],
      ['bytes=-4 (suffix)', { suffix: 4 }, 16, 19],
      ['bytes=-100 (suffix past the start)', { suffix: 100 }, 0, 19],
    ]
    for (const [label, range, start, end] of cases) {
      it(`returns ${label}`, async () => {
        const got = await backend.getObject({ bucket, key: 'ranged', range })
        expect(got.range).toEqual({ start, end })
        expect(got.size).toBe(20)
        expect((await collect(got.body)).toString()).toBe(data.subarray(start, end + 1).toString())
      })
    }

    it('answers 416 InvalidRange with the size for a start past the end', async () => {
      const err = await s3Error(backend.getObject({ bucket, key: 'ranged', range: { start: 20 } }))
      expect(err.code).toBe('InvalidRange')
      expect(err.status).toBe(416)
      expect(err.fields).toMatchObject({ ActualObjectSize: 20 })
      expect(err.headers['content-range']).toBe('bytes */20')
    })

    it('answers 416 for bytes=-0 (RGW alone would send the whole object)', async () => {
      const err = await s3Error(backend.getObject({ bucket, key: 'ranged', range: { suffix: 0 } }))
      expect(err.code).toBe('InvalidRange')
      expect(err.headers['content-range']).toBe('bytes */20')
    })

    it('answers 416 for any range of an empty object', async () => {
      await putFrom('empty-ranged', chunksOf(), 0)
      for (const range of [{ start: 0 }, { suffix: 3 }]) {
        const err = await s3Error(backend.getObject({ bucket, key: 'empty-ranged', range }))
        expect(err.code).toBe('InvalidRange')
        expect(err.headers['content-range']).toBe('bytes */0')
      }
    })

    it('checks preconditions before the range', async () => {
      const err = await s3Error(
        backend.getObject({ bucket, key: 'ranged', range: { start: 100 }, conditions: { ifMatch: '"nope"' } })
      )
      expect(err.code).toBe('PreconditionFailed')
    })

    it('partNumber: RGW 16 ignores it, which is right only for an object of one part', async () => {
      const got = await backend.getObject({ bucket, key: 'ranged', partNumber: 1 })
      expect(got).toMatchObject({ size: 20, range: { start: 0, end: 19 } })
      expect(got.partsCount).toBeUndefined()
      expect((await collect(got.body)).equals(data)).toBe(true)
      expect(await backend.headObject(bucket, 'ranged', undefined, 1)).toMatchObject({ range: { start: 0, end: 19 } })
      expect((await s3Error(backend.getObject({ bucket, key: 'ranged', partNumber: 2 }))).code).toBe('InvalidPartNumber')
      const uploadId = await backend.createMultipartUpload(bucket, 'mp-parts', EMPTY_META)
      const parts = [randomBytes(5 * MiB), randomBytes(10)]
      const etags: string[] = []
      for (const [i, part] of parts.entries()) {
        const input = { bucket, key: 'mp-parts', uploadId, partNumber: i + 1, body: chunked(part), contentLength: part.length }
        const out = await backend.uploadPart(input)
        etags.push(out.etag)
      }
      const list = etags.map((etag, i) => ({ partNumber: i + 1, etag }))
      await backend.completeMultipartUpload({ bucket, key: 'mp-parts', uploadId, parts: list })
      // The whole object would be the wrong answer: say so instead.
      expect((await s3Error(backend.getObject({ bucket, key: 'mp-parts', partNumber: 1 }))).code).toBe('NotImplemented')
      expect((await s3Error(backend.headObject(bucket, 'mp-parts', undefined, 2))).code).toBe('NotImplemented')
    })
  })

  describe('read conditions', () => {
    let etag: string
    let lastModified: Date

    beforeAll(async () => {
      ;({ etag } = await put('conditional', Buffer.from('conditional body')))
      ;({ lastModified } = await backend.headObject(bucket, 'conditional'))
    })

    const past = () => new Date(lastModified.getTime() - 3600_000)
    const future = () => new Date(lastModified.getTime() + 3600_000)

    it('304 NotModified with ETag and Last-Modified on a matching If-None-Match (GET and HEAD)', async () => {
      for (const ifNoneMatch of [etag, etag.slice(1, -1), '*', `"other", ${etag}`]) {
        for (const call of [
          () => backend.getObject({ bucket, key: 'conditional', conditions: { ifNoneMatch } }),
          () => backend.headObject(bucket, 'conditional', { ifNoneMatch }),
        ]) {
          const err = await s3Error(call())
          expect(err.code).toBe('NotModified')
          expect(err.status).toBe(304)
          expect(err.headers).toEqual({ etag, 'last-modified': lastModified.toUTCString() })
        }
      }
    })

    it('304 on If-Modified-Since at or after Last-Modified', async () => {
      const get = (ifModifiedSince: Date) =>
        backend.getObject({ bucket, key: 'conditional', conditions: { ifModifiedSince } })
      const err = await s3Error(get(future()))
      expect(err.code).toBe('NotModified')
      expect(err.headers.etag).toBe(etag)
      const got = await get(past())
      expect((await collect(got.body)).toString()).toBe('conditional body')
    })

    it('412 PreconditionFailed on a failing If-Match or If-Unmodified-Since (GET and HEAD)', async () => {
      for (const conditions of [{ ifMatch: '"0000"' }, { ifUnmodifiedSince: past() }]) {
        const get = await s3Error(backend.getObject({ bucket, key: 'conditional', conditions }))
        expect(get.code).toBe('PreconditionFailed')
        const head = await s3Error(backend.headObject(bucket, 'conditional', conditions))
        expect(head.code).toBe('PreconditionFailed')
        expect(head.status).toBe(412)
      }
    })

    it('passes matching conditions, S3 precedence included', async () => {
      for (const conditions of [
        { ifMatch: etag },
        { ifMatch: '*' }, // RGW alone answers 412
        { ifMatch: `"other", ${etag}` }, // RGW alone answers 412
        { ifMatch: etag, ifUnmodifiedSince: past() }, // If-Match wins
        { ifNoneMatch: '"other"', ifModifiedSince: future() }, // If-None-Match wins
        { ifUnmodifiedSince: future(), ifModifiedSince: past() },
      ]) {
        const got = await backend.getObject({ bucket, key: 'conditional', conditions })
        expect((await collect(got.body)).toString()).toBe('conditional body')
        await expect(backend.headObject(bucket, 'conditional', conditions)).resolves.toMatchObject({ etag })
      }
    })
  })

  describe('response bodies', () => {
    it('releases the connection when iteration stops early (or never starts)', async () => {
      const data = randomBytes(8 * MiB)
      await put('big', data)
      // Two sockets only: an unreleased body would leave the third GET waiting forever.
      const narrow = createS3UpstreamBackend({
        endpoint: conn.endpoint,
        region: conn.region,
        credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
        maxSockets: 2,
      })
      for (let i = 0; i < 6; i++) {
        const got = await narrow.getObject({ bucket, key: 'big' })
        if (i % 2 === 0) {
          for await (const chunk of got.body) {
            expect(chunk.byteLength).toBeGreaterThan(0)
            break
          }
        } else {
          await got.body[Symbol.asyncIterator]().return?.()
        }
      }
      const last = await narrow.getObject({ bucket, key: 'big', range: { start: 8 * MiB - 10 } })
      expect((await collect(last.body)).equals(data.subarray(8 * MiB - 10))).toBe(true)
    }, 30_000)
  })

  describe('idle response bodies', () => {
    it('fail with 503 after the socket timeout, without crashing when nobody iterates yet', async () => {
      await put('idle', randomBytes(4 * MiB))
      const impatient = createS3UpstreamBackend({
        endpoint: conn.endpoint,
        region: conn.region,
        credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
        socketTimeoutMs: 300,
      })
      const untouched = await impatient.getObject({ bucket, key: 'idle' })
      const started = await impatient.getObject({ bucket, key: 'idle' })
      const iterator = started.body[Symbol.asyncIterator]()
      expect((await iterator.next()).done).toBe(false)
      await new Promise((r) => setTimeout(r, 1000))
      const err = await s3Error(
        (async () => {
          for (;;) if ((await iterator.next()).done) return
        })()
      )
      expect(err.status).toBe(503)
      await untouched.body[Symbol.asyncIterator]().return?.()
    })
  })

  describe('listing', () => {
    const prefix = 'list/'
    const keys = ['a', 'b/1', 'b/2', 'b/3', 'c/1', 'd', 'e/x/1', 'f', 'sp ace', 'ü'].map((k) => prefix + k)

    beforeAll(async () => {
      await Promise.all(keys.map((key) => put(key, Buffer.from(key))))
    })

    it('lists v2 pages with continuation tokens', async () => {
      const seen: string[] = []
      let token: string | undefined
      let pages = 0
      do {
        const page = await backend.listObjects({ bucket, prefix, maxKeys: 3, continuationToken: token })
        pages++
        seen.push(...page.objects.map((o) => o.key))
        for (const o of page.objects) {
          expect(o.etag).toBe(md5Etag(Buffer.from(o.key)))
          expect(o.size).toBe(Buffer.byteLength(o.key))
          expect(o.lastModified).toBeInstanceOf(Date)
        }
        expect(page.nextMarker).toBeUndefined()
        token = page.isTruncated ? page.nextContinuationToken : undefined
        if (page.isTruncated) expect(token).toBeTruthy()
      } while (token)
      expect(pages).toBe(4)
      expect(seen).toEqual(keys)
    })

    it('lists v2 with a delimiter, StartAfter and pages of common prefixes', async () => {
      const first = await backend.listObjects({ bucket, prefix, delimiter: '/', maxKeys: 3 })
      expect(first.objects.map((o) => o.key)).toEqual([`${prefix}a`])
      expect(first.commonPrefixes).toEqual([`${prefix}b/`, `${prefix}c/`])
      expect(first.isTruncated).toBe(true)
      const continuationToken = first.nextContinuationToken
      const rest = await backend.listObjects({ bucket, prefix, delimiter: '/', maxKeys: 9, continuationToken })
      expect(rest.objects.map((o) => o.key)).toEqual(['d', 'f', 'sp ace', 'ü'].map((k) => prefix + k))
      expect(rest.commonPrefixes).toEqual([`${prefix}e/`])
      expect(rest.isTruncated).toBe(false)
      expect(rest.nextContinuationToken).toBeUndefined()

      const after = await backend.listObjects({ bucket, prefix, maxKeys: 100, startAfter: `${prefix}e/x/1` })
      expect(after.objects.map((o) => o.key)).toEqual([`${prefix}f`, `${prefix}sp ace`, `${prefix}ü`])
    })

    it('lists v1 pages with markers, with and without a delimiter', async () => {
      const walk = async (delimiter?: string) => {
        const entries: string[] = []
        let marker = ''
        for (;;) {
          const page = await backend.listObjects({ bucket, prefix, delimiter, maxKeys: 2, marker })
          entries.push(...page.objects.map((o) => o.key), ...page.commonPrefixes)
          expect(page.nextContinuationToken).toBeUndefined()
          if (!page.isTruncated) return entries.sort()
          expect(page.nextMarker).toBeTruthy()
          marker = page.nextMarker!
        }
      }
      expect(await walk()).toEqual([...keys].sort())
      const grouped = ['a', 'b/', 'c/', 'd', 'e/', 'f', 'sp ace', 'ü'].map((k) => prefix + k)
      expect(await walk('/')).toEqual(grouped.sort())
    })

    it('answers maxKeys 0 locally: empty and not truncated', async () => {
      const page = await backend.listObjects({ bucket, prefix, maxKeys: 0 })
      expect(page).toEqual({ objects: [], commonPrefixes: [], isTruncated: false })
    })

    it('returns keys raw, control characters included', async () => {
      const odd = ['odd/cr\rlf\n', 'odd/tab\t', 'odd/%2F+&<>', 'odd/emoji😀']
      await Promise.all(odd.map((key) => put(key, Buffer.from('o'))))
      const listed = await backend.listObjects({ bucket, prefix: 'odd/', maxKeys: 100 })
      expect(listed.objects.map((o) => o.key).sort()).toEqual([...odd].sort())
      for (const key of odd) expect((await backend.headObject(bucket, key)).key).toBe(key)
    })
  })

  describe('upstream failures reveal nothing', () => {
    it('maps an unreachable upstream to 503 without endpoint or credential text', async () => {
      const port = await freePort() // closed: nobody listens
      const down = createS3UpstreamBackend({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'DOWNACCESSKEY', secretAccessKey: 'down-secret-value-123' },
        connectionTimeoutMs: 2000,
      })
      const calls = [
        () => down.listBuckets(),
        () => down.headBucket('b'),
        () => down.headObject('b', 'k'),
        () => down.getObject({ bucket: 'b', key: 'k' }),
        () => down.listObjects({ bucket: 'b', maxKeys: 5 }),
        () => putFrom('k', chunksOf(Buffer.from('abc')), 3, { bucket: 'b', via: down }),
        () => down.deleteObjects('b', ['k']),
      ]
      for (const call of calls) {
        const err = await s3Error(call())
        expect(err.status).toBe(503)
        expect(err.code).toBe('ServiceUnavailable')
        const text = visible(err)
        for (const leak of ['127.0.0.1', String(port), 'DOWNACCESSKEY', 'down-secret-value-123', 'ECONN']) {
          expect(text).not.toContain(leak)
        }
        // operators still learn what happened, from the cause in the server's log
        expect((err.cause as Error).message).toContain('ECONNREFUSED')
      }
    })

    it('maps an upstream that never answers to 503 after the socket timeout', async () => {
      const sockets = new Set<Socket>()
      const silent = createServer((socket) => void sockets.add(socket))
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const { port } = silent.address() as AddressInfo
      try {
        const hung = createS3UpstreamBackend({
          endpoint: `http://127.0.0.1:${port}`,
          region: 'us-east-1',
          credentials: { accessKeyId: 'HUNGACCESSKEY', secretAccessKey: 'hung-secret' },
          socketTimeoutMs: 300,
        })
        const started = Date.now()
        const err = await s3Error(hung.headObject('b', 'k'))
        expect(err.status).toBe(503)
        expect(visible(err)).not.toContain(String(port))
        expect(Date.now() - started).toBeLessThan(10_000)
      } finally {
        for (const socket of sockets) socket.destroy()
        await new Promise((resolve) => silent.close(resolve))
      }
    })

    it('maps wrong upstream credentials to an S3Error that does not contain them', async () => {
      const wrongSecret = 'wrong-secret-DO-NOT-LEAK-0123456789'
      const wrong = createS3UpstreamBackend({
        endpoint: conn.endpoint,
        region: conn.region,
        credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: wrongSecret },
      })
      await put('auth-probe', Buffer.from('x'))
      const calls = [
        () => wrong.listBuckets(),
        () => wrong.headBucket(bucket),
        () => wrong.headObject(bucket, 'auth-probe'),
        () => wrong.getObject({ bucket, key: 'auth-probe' }),
        () => wrong.listObjects({ bucket, maxKeys: 5 }),
        () => putFrom('auth-probe-2', chunksOf(Buffer.from('abc')), 3, { via: wrong }),
      ]
      for (const call of calls) {
        const err = await s3Error(call())
        expect([403, 500]).toContain(err.status)
        const text = visible(err)
        const leaks = [wrongSecret, conn.secretAccessKey, conn.accessKeyId, conn.endpoint, 'Signature']
        for (const leak of leaks) {
          expect(text).not.toContain(leak)
        }
        expect((err.cause as Error).message).not.toContain(wrongSecret)
      }
      expect((await s3Error(backend.headObject(bucket, 'auth-probe-2'))).code).toBe('NoSuchKey')
    })
  })

  describe('https upstream with a private CA', () => {
    let dir: string
    let proxy: TlsServer
    let endpoint: string
    const sockets = new Set<Socket>()

    beforeAll(async () => {
      // A self-signed certificate for 127.0.0.1, and a TLS terminator in front of RGW (plain HTTP here)
      dir = await mkdtemp(join(tmpdir(), 's3veil-ca-'))
      const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=s3veil-test']
      args.push('-addext', 'subjectAltName=IP:127.0.0.1')
      args.push('-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'))
      execFileSync('openssl', args, { stdio: 'ignore' })
      const upstream = new URL(conn.endpoint)
      proxy = createTlsServer(
        { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
        (client) => {
          const server = connect(Number(upstream.port), upstream.hostname)
          for (const s of [client, server]) {
            sockets.add(s)
            s.on('error', () => {})
          }
          client.pipe(server).pipe(client)
        }
      )
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
      endpoint = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    })

    afterAll(async () => {
      for (const socket of sockets) socket.destroy()
      if (proxy) await new Promise((resolve) => proxy.close(resolve))
      if (dir) await rm(dir, { recursive: true, force: true })
    })

    const over = (caBundle?: string) =>
      createS3UpstreamBackend({
        endpoint,
        region: conn.region,
        credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
        caBundle,
      })

    it('trusts the CA given as a file path or as PEM text', async () => {
      const pem = await readFile(join(dir, 'cert.pem'), 'utf8')
      for (const backendOverTls of [over(join(dir, 'cert.pem')), over(pem)]) {
        const data = randomBytes(100_000)
        await putFrom('tls', chunked(data), data.byteLength, { via: backendOverTls })
        const got = await backendOverTls.getObject({ bucket, key: 'tls' })
        expect((await collect(got.body)).equals(data)).toBe(true)
      }
    })

    it('refuses an untrusted certificate as 503 without details', async () => {
      const err = await s3Error(over().listBuckets())
      expect(err.code).toBe('ServiceUnavailable')
      expect(visible(err)).not.toContain('127.0.0.1')
      expect((err.cause as Error).message).toMatch(/self.signed|certificate/i)
    })
  })
})

describe('S3 upstream backend: partNumber reads from an upstream that serves them as AWS does', () => {
  // AWS answers a part with 206, its Content-Range and x-amz-mp-parts-count, and 416 InvalidPartNumber
  // past the last part. RGW cannot show this, so a small HTTP server answers as AWS documents it.
  const body = Buffer.from('0123456789')
  let server: HttpServer
  let backend: Backend
  const seen: string[] = []

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      const partNumber = new URL(req.url ?? '/', 'http://x').searchParams.get('partNumber')
      const headers = { etag: '"0123456789abcdef0123456789abcdef-2"', 'last-modified': new Date(0).toUTCString() }
      if (partNumber === '9') {
        res.writeHead(416, { 'content-type': 'application/xml' })
        const xml =
          '<Error><Code>InvalidPartNumber</Code><Message>The requested partnumber is not satisfiable</Message>' +
          '<PartNumberRequested>9</PartNumberRequested><ActualPartCount>2</ActualPartCount></Error>'
        res.end(req.method === 'HEAD' ? undefined : xml)
        return
      }
      const [start, end] = partNumber === '1' ? [0, 5] : [6, 9]
      res.writeHead(206, {
        ...headers,
        'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/30`,
        'x-amz-mp-parts-count': '2',
      })
      res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    backend = createS3UpstreamBackend({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'FAKEAWSACCESSKEY', secretAccessKey: 'fake-secret' },
    })
  })

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve))
  })

  it('passes partNumber on and reports the part\'s range, the object size and the parts count', async () => {
    const got = await backend.getObject({ bucket: 'b', key: 'k', partNumber: 2 })
    expect(got).toMatchObject({ size: 30, range: { start: 6, end: 9 }, partsCount: 2 })
    expect((await collect(got.body)).toString()).toBe('6789')
    expect(await backend.headObject('b', 'k', undefined, 1)).toMatchObject({ size: 30, range: { start: 0, end: 5 }, partsCount: 2 })
    expect(seen).toEqual(['GET /b/k?partNumber=2&x-id=GetObject', 'HEAD /b/k?partNumber=1'])
  })

  it('maps the upstream\'s 416 to InvalidPartNumber (GET and HEAD)', async () => {
    const err = await s3Error(backend.getObject({ bucket: 'b', key: 'k', partNumber: 9 }))
    expect(err).toMatchObject({ code: 'InvalidPartNumber', status: 416 })
    expect(err.fields.PartNumberRequested).toBe(9)
    expect((await s3Error(backend.headObject('b', 'k', undefined, 9))).code).toBe('InvalidPartNumber')
  })
})
