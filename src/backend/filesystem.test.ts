/** @module backend/filesystem.test — against a real temp directory, no mocks. */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { S3Error } from '../s3/errors.js'
import { createFilesystemBackend } from './filesystem.js'
import type { Backend, GetObjectInput, ObjectMetadata, PutObjectInput } from './types.js'
import { collect, s3ErrorCode as code } from '../../test/helpers/streams.js'

const NO_META: ObjectMetadata = { headers: {}, user: {} }

let root: string
let dataDir: string
let backend: Backend

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 's3veil-fs-'))
  dataDir = join(root, 'data')
  backend = await createFilesystemBackend({ dataDir })
  await backend.createBucket('bkt')
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part) : part
}

async function put(key: string, data: string | Uint8Array, metadata: ObjectMetadata = NO_META, bucket = 'bkt') {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  return backend.putObject({ bucket, key, body: chunks(bytes), contentLength: bytes.byteLength, metadata })
}

function putBody(
  key: string,
  body: AsyncIterable<Uint8Array>,
  contentLength: number,
  conditions?: PutObjectInput['conditions'],
  bucket = 'bkt'
) {
  return backend.putObject({ bucket, key, body, contentLength, metadata: NO_META, conditions })
}

async function read(key: string, bucket = 'bkt'): Promise<string> {
  return (await collect((await backend.getObject({ bucket, key })).body)).toString()
}

/** The S3 error code a promise rejects with. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    out.push(path)
    if (entry.isDirectory()) out.push(...(await walk(path)))
  }
  return out
}

/** Every path under the temp root must be dataDir or inside it, and match the documented layout. */
async function expectLayout(): Promise<void> {
  expect(await readdir(root)).toEqual(['data'])
  const bucket = 'buckets/[a-z0-9.-]+'
  const objects = `${bucket}/objects(/[0-9a-f]{2}(/[0-9a-f]{64})?)?`
  const layout = new RegExp(`^(tmp|buckets|${bucket}|${bucket}/bucket\\.json|${objects})$`)
  for (const path of await walk(dataDir)) {
    const rel = relative(dataDir, path).split(sep).join('/')
    expect(rel).toMatch(layout)
    const match = /objects\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(rel)
    if (match) expect(match[2]!.startsWith(match[1]!)).toBe(true)
  }
  expect(await readdir(join(dataDir, 'tmp'))).toEqual([])
}

function md5Etag(data: string | Uint8Array): string {
  return `"${createHash('md5').update(data).digest('hex')}"`
}

function openFds(): number | undefined {
  return existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : undefined
}

/** A body that yields `first`, signals `reached`, then waits for `release()` before yielding `rest`. */
function gatedBody(first: string, rest: string | Error) {
  let release!: () => void
  let reached!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const reachedGate = new Promise<void>((resolve) => (reached = resolve))
  async function* body(): AsyncGenerator<Uint8Array> {
    yield Buffer.from(first)
    reached()
    await released
    if (rest instanceof Error) throw rest
    yield Buffer.from(rest)
  }
  return { body: body(), release, reached: reachedGate }
}

describe('buckets', () => {
  it('creates, lists sorted, heads and deletes', async () => {
    await backend.createBucket('zeta')
    await backend.createBucket('alpha.1')
    const buckets = await backend.listBuckets()
    expect(buckets.map((b) => b.name)).toEqual(['alpha.1', 'bkt', 'zeta'])
    for (const b of buckets) expect(Date.now() - b.creationDate.getTime()).toBeLessThan(60_000)
    await backend.headBucket('zeta')
    await backend.deleteBucket('zeta')
    expect(await code(backend.headBucket('zeta'))).toBe('NoSuchBucket')
    expect((await backend.listBuckets()).map((b) => b.name)).toEqual(['alpha.1', 'bkt'])
    await expectLayout()
  })

  it('rejects a second create of the same bucket', async () => {
    expect(await code(backend.createBucket('bkt'))).toBe('BucketAlreadyOwnedByYou')
    const results = await Promise.allSettled([backend.createBucket('race'), backend.createBucket('race')])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    await expectLayout()
  })

  it.each(['ab', 'Upper', '../escape', 'a/b', '..', '192.168.1.1', 'xn--abc', 'a'.repeat(64)])(
    'rejects invalid name %j before touching the disk',
    async (name) => {
      const before = await walk(dataDir)
      expect(await code(backend.createBucket(name))).toBe('InvalidBucketName')
      expect(await code(backend.headBucket(name))).toBe('InvalidBucketName')
      expect(await code(put('k', 'x', NO_META, name))).toBe('InvalidBucketName')
      expect(await walk(dataDir)).toEqual(before)
      await expectLayout()
    }
  )

  it('reports missing buckets as NoSuchBucket', async () => {
    expect(await code(backend.headBucket('nope'))).toBe('NoSuchBucket')
    expect(await code(backend.deleteBucket('nope'))).toBe('NoSuchBucket')
    expect(await code(backend.getBucketLocation('nope'))).toBe('NoSuchBucket')
    expect(await code(backend.listObjects({ bucket: 'nope', maxKeys: 10 }))).toBe('NoSuchBucket')
    expect(await code(put('k', 'x', NO_META, 'nope'))).toBe('NoSuchBucket')
    expect(await code(backend.getObject({ bucket: 'nope', key: 'k' }))).toBe('NoSuchBucket')
    expect(await code(backend.headObject('nope', 'k'))).toBe('NoSuchBucket')
    expect(await code(backend.deleteObject('nope', 'k'))).toBe('NoSuchBucket')
    expect(await code(backend.deleteObjects('nope', ['k']))).toBe('NoSuchBucket')
  })

  it('refuses to delete a non-empty bucket', async () => {
    await put('x/y', 'data')
    expect(await code(backend.deleteBucket('bkt'))).toBe('BucketNotEmpty')
    expect(await read('x/y')).toBe('data')
    await backend.deleteObject('bkt', 'x/y')
    await backend.deleteBucket('bkt')
    expect(await backend.listBuckets()).toEqual([])
    await expectLayout()
  })

  it('answers GetBucketLocation with "" for us-east-1 and the region otherwise', async () => {
    expect(await backend.getBucketLocation('bkt')).toBe('')
    const eu = await createFilesystemBackend({ dataDir, region: 'eu-west-1' })
    expect(await eu.getBucketLocation('bkt')).toBe('eu-west-1')
  })

  it('persists across restarts and cleans tmp/ at startup', async () => {
    await put('kept', 'still here', { headers: { contentType: 'text/plain' }, user: { a: '1' } })
    await writeFile(join(dataDir, 'tmp', 'leftover'), 'partial upload')
    await mkdir(join(dataDir, 'tmp', 'half-made-bucket', 'objects'), { recursive: true })
    const reopened = await createFilesystemBackend({ dataDir })
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([])
    expect((await reopened.listBuckets()).map((b) => b.name)).toEqual(['bkt'])
    const head = await reopened.headObject('bkt', 'kept')
    expect(head.metadata).toEqual({ headers: { contentType: 'text/plain' }, user: { a: '1' } })
    await expectLayout()
  })
})

describe('objects', () => {
  const KEYS = [
    'plain',
    'a b',
    'a+b',
    '100%',
    '%2F',
    'ü/ñ.txt',
    '😀',
    '../../etc/passwd',
    '../../../../../../tmp/escape',
    '/leading',
    'a//b',
    'dir/',
    '.',
    '..',
    'nul\u0000byte',
    '\u0000',
    'back\\slash',
    'new\nline',
    'x'.repeat(1024),
    'ü'.repeat(512),
  ]

  it('round-trips awkward keys without writing outside dataDir', async () => {
    for (const [i, key] of KEYS.entries()) await put(key, `value ${i}`, { headers: {}, user: { i: String(i) } })
    for (const [i, key] of KEYS.entries()) {
      expect(await read(key)).toBe(`value ${i}`)
      const head = await backend.headObject('bkt', key)
      expect(head.key).toBe(key)
      expect(head.etag).toBe(md5Etag(`value ${i}`))
      expect(head.metadata.user).toEqual({ i: String(i) })
    }
    const listed = await backend.listObjects({ bucket: 'bkt', maxKeys: 1000 })
    expect(listed.objects.map((o) => o.key)).toEqual(
      [...KEYS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    )
    await expectLayout()
    expect(existsSync(join(root, 'tmp', 'escape'))).toBe(false)
    for (const key of KEYS) await backend.deleteObject('bkt', key)
    expect((await backend.listObjects({ bucket: 'bkt', maxKeys: 1000 })).objects).toEqual([])
    await expectLayout()
  })

  it('enforces key limits', async () => {
    expect(await code(put('x'.repeat(1025), 'x'))).toBe('KeyTooLongError')
    expect(await code(put('ü'.repeat(512) + 'x', 'x'))).toBe('KeyTooLongError')
    expect(await code(put('', 'x'))).toBe('InvalidArgument')
    expect(await code(put('lone\ud800', 'x'))).toBe('InvalidArgument')
    expect(await code(backend.getObject({ bucket: 'bkt', key: 'x'.repeat(1025) }))).toBe('KeyTooLongError')
    await expectLayout()
  })

  it('stores metadata, etag, size and a whole-second lastModified', async () => {
    const metadata: ObjectMetadata = {
      headers: {
        contentType: 'text/plain; charset=utf-8',
        cacheControl: 'no-cache',
        contentDisposition: 'attachment; filename="a b.txt"',
        contentEncoding: 'identity',
        contentLanguage: 'de',
        expires: 'Wed, 21 Oct 2015 07:28:00 GMT',
      },
      user: { 'my-key': 'value with spaces', empty: '', unicode: 'ünïcödé' },
    }
    const before = Math.floor(Date.now() / 1000) * 1000
    const { etag } = await put('meta', 'hello world', metadata)
    expect(etag).toBe(md5Etag('hello world'))
    const info = await backend.headObject('bkt', 'meta')
    expect(info).toMatchObject({ key: 'meta', size: 11, etag, metadata })
    expect(info.lastModified.getTime() % 1000).toBe(0)
    expect(info.lastModified.getTime()).toBeGreaterThanOrEqual(before)
    const got = await backend.getObject({ bucket: 'bkt', key: 'meta' })
    expect(got).toMatchObject({ key: 'meta', size: 11, etag, metadata })
    expect(got.range).toBeUndefined()
    expect((await collect(got.body)).toString()).toBe('hello world')
    const listed = (await backend.listObjects({ bucket: 'bkt', maxKeys: 10 })).objects
    expect(listed).toEqual([{ key: 'meta', size: 11, etag, lastModified: info.lastModified }])
  })

  it('stores and serves empty objects', async () => {
    const { etag } = await put('empty', '')
    expect(etag).toBe('"d41d8cd98f00b204e9800998ecf8427e"')
    const got = await backend.getObject({ bucket: 'bkt', key: 'empty' })
    expect(got.size).toBe(0)
    expect((await collect(got.body)).length).toBe(0)
  })

  it('streams large objects in chunks of at most 1 MiB', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
    const parts: Buffer[] = []
    for (let at = 0; at < data.length; at += 65_000) parts.push(data.subarray(at, at + 65_000))
    const { etag } = await backend.putObject({
      bucket: 'bkt',
      key: 'big',
      body: chunks(...parts),
      contentLength: data.length,
      metadata: NO_META,
    })
    expect(etag).toBe(md5Etag(data))
    const got = await backend.getObject({ bucket: 'bkt', key: 'big' })
    const received: Uint8Array[] = []
    for await (const part of got.body) {
      expect(part.byteLength).toBeLessThanOrEqual(1024 * 1024)
      received.push(part)
    }
    expect(Buffer.concat(received).equals(data)).toBe(true)
    const [start, end] = [1024 * 1024 - 3, 2 * 1024 * 1024 + 5]
    const ranged = await backend.getObject({ bucket: 'bkt', key: 'big', range: { start, end } })
    expect((await collect(ranged.body)).equals(data.subarray(start, end + 1))).toBe(true)
  })

  it('stores the right bytes when the producer reuses its buffer after each yield', async () => {
    const shared = Buffer.alloc(1000)
    async function* reusing(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 600; i++) {
        shared.fill(i & 0xff)
        yield shared
      }
      const big = Buffer.alloc(300_000, 7) // larger than a write batch: written directly
      yield big
      big.fill(9)
    }
    const expected = Buffer.concat([
      ...Array.from({ length: 600 }, (_, i) => Buffer.alloc(1000, i & 0xff)),
      Buffer.alloc(300_000, 7),
    ])
    const { etag } = await putBody('reuse', reusing(), expected.length)
    expect(etag).toBe(md5Etag(expected))
    expect((await collect((await backend.getObject({ bucket: 'bkt', key: 'reuse' })).body)).equals(expected)).toBe(true)
  })

  it('reports NoSuchKey for missing objects', async () => {
    expect(await code(backend.getObject({ bucket: 'bkt', key: 'missing' }))).toBe('NoSuchKey')
    expect(await code(backend.headObject('bkt', 'missing'))).toBe('NoSuchKey')
  })

  it('deletes idempotently', async () => {
    await put('gone', 'x')
    await backend.deleteObject('bkt', 'gone')
    await backend.deleteObject('bkt', 'gone')
    await backend.deleteObject('bkt', 'never-existed')
    expect(await code(backend.headObject('bkt', 'gone'))).toBe('NoSuchKey')
  })

  it('deletes many with per-key results', async () => {
    await put('one', '1')
    await put('two', '2')
    const result = await backend.deleteObjects('bkt', ['one', 'missing', 'two', '', 'x'.repeat(1025), 'a/../one'])
    expect(result.deleted).toEqual(['one', 'missing', 'two', 'a/../one'])
    expect(result.errors).toEqual([
      { key: '', code: 'InvalidArgument', message: expect.any(String) },
      { key: 'x'.repeat(1025), code: 'KeyTooLongError', message: 'Your key is too long.' },
    ])
    expect((await backend.listObjects({ bucket: 'bkt', maxKeys: 10 })).objects).toEqual([])
    expect(await backend.deleteObjects('bkt', [])).toEqual({ deleted: [], errors: [] })
  })

  it('treats a corrupt object file as InternalError', async () => {
    await put('victim', 'data')
    const shardRoot = join(dataDir, 'buckets', 'bkt', 'objects')
    const file = (await walk(shardRoot)).find((p) => /[0-9a-f]{64}$/.test(p))!
    await writeFile(file, 'garbage')
    expect(await code(backend.headObject('bkt', 'victim'))).toBe('InternalError')
    expect(await code(backend.listObjects({ bucket: 'bkt', maxKeys: 10 }))).toBe('InternalError')
  })
})

describe('failed writes leave nothing behind', () => {
  it('rethrows the body’s own error mid-stream, stores nothing, removes the temp file', async () => {
    const boom = new Error('signature mismatch')
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(300_000, 1) // past the write batch size, so bytes did reach the temp file
      yield Buffer.alloc(10, 2)
      throw boom
    }
    const err = await backend
      .putObject({ bucket: 'bkt', key: 'k', body: failing(), contentLength: 400_000, metadata: NO_META })
      .catch((e: unknown) => e)
    expect(err).toBe(boom)
    expect(await code(backend.headObject('bkt', 'k'))).toBe('NoSuchKey')
    await expectLayout()
  })

  it('rethrows non-S3 and S3 body errors unchanged', async () => {
    const s3err = new S3Error('XAmzContentSHA256Mismatch')
    async function* failing(): AsyncGenerator<Uint8Array> {
      throw s3err
    }
    const err = await backend
      .putObject({ bucket: 'bkt', key: 'k', body: failing(), contentLength: 1, metadata: NO_META })
      .catch((e: unknown) => e)
    expect(err).toBe(s3err)
    await expectLayout()
  })

  it('rejects a short body with IncompleteBody', async () => {
    const err = await backend
      .putObject({ bucket: 'bkt', key: 'short', body: chunks('abc', 'de'), contentLength: 10, metadata: NO_META })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(S3Error)
    expect((err as S3Error).code).toBe('IncompleteBody')
    expect((err as S3Error).fields).toEqual({ NumberBytesExpected: 10, NumberBytesProvided: 5 })
    expect(await code(backend.headObject('bkt', 'short'))).toBe('NoSuchKey')
    await expectLayout()
  })

  it('rejects a long body with IncompleteBody and stops reading it', async () => {
    let yielded = 0
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        yielded++
        yield Buffer.from('xxxx')
      }
    }
    expect(await code(putBody('long', endless(), 6))).toBe(
      'IncompleteBody'
    )
    expect(yielded).toBe(2)
    expect(await code(backend.headObject('bkt', 'long'))).toBe('NoSuchKey')
    await expectLayout()
  })

  it('rejects a bad content length', async () => {
    expect(await code(putBody('k', chunks(), -1))).toBe(
      'InvalidArgument'
    )
  })

  it('keeps the old object intact until the overwrite completes, and after a failed one', async () => {
    await put('doc', 'old version')
    const gate = gatedBody('new ', 'version')
    const writing = putBody('doc', gate.body, 11)
    await gate.reached
    expect(await read('doc')).toBe('old version')
    expect((await backend.listObjects({ bucket: 'bkt', maxKeys: 10 })).objects.map((o) => o.size)).toEqual([11])
    gate.release()
    expect((await writing).etag).toBe(md5Etag('new version'))
    expect(await read('doc')).toBe('new version')

    const failing = gatedBody('broken ', new Error('client went away'))
    const failed = putBody('doc', failing.body, 20)
    await failing.reached
    failing.release()
    await expect(failed).rejects.toThrow('client went away')
    expect(await read('doc')).toBe('new version')
    await expectLayout()
  })

  it('serves a stable old version to a reader that opened before an overwrite', async () => {
    const old = Buffer.alloc(3 * 1024 * 1024, 'a')
    await put('stable', old)
    const reader = await backend.getObject({ bucket: 'bkt', key: 'stable' })
    const iterator = reader.body[Symbol.asyncIterator]()
    const first = await iterator.next()
    await put('stable', 'replacement')
    await backend.deleteObject('bkt', 'stable')
    const rest: Uint8Array[] = [first.value as Uint8Array]
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value)
    expect(Buffer.concat(rest).equals(old)).toBe(true)
  })

  it('fails a write whose bucket is deleted mid-upload with NoSuchBucket, leaving nothing', async () => {
    await backend.createBucket('brief')
    const gate = gatedBody('ab', 'cd')
    const writing = putBody('k', gate.body, 4, undefined, 'brief')
    await gate.reached
    await backend.deleteBucket('brief')
    gate.release()
    expect(await code(writing)).toBe('NoSuchBucket')
    await expectLayout()
  })
})

describe('reading releases the file', () => {
  const fdsSupported = openFds() !== undefined

  it.runIf(fdsSupported)('closes on break, on return() before reading, at the end, and on 304/412/416', async () => {
    await put('fd', Buffer.alloc(3 * 1024 * 1024, 'z'))
    await put('empty', '')
    const baseline = openFds()!

    const got = await backend.getObject({ bucket: 'bkt', key: 'fd' })
    expect(openFds()).toBe(baseline + 1)
    for await (const part of got.body) {
      expect(part.length).toBeGreaterThan(0)
      break
    }
    expect(openFds()).toBe(baseline)

    const untouched = await backend.getObject({ bucket: 'bkt', key: 'fd' })
    await (untouched.body as AsyncIterableIterator<Uint8Array>).return!()
    expect(openFds()).toBe(baseline)

    await collect((await backend.getObject({ bucket: 'bkt', key: 'fd' })).body)
    await collect((await backend.getObject({ bucket: 'bkt', key: 'empty' })).body)
    expect(openFds()).toBe(baseline)

    const { etag } = await backend.headObject('bkt', 'fd')
    const get = (extra: Partial<GetObjectInput>) => code(backend.getObject({ bucket: 'bkt', key: 'fd', ...extra }))
    expect(await get({ conditions: { ifNoneMatch: etag } })).toBe('NotModified')
    expect(await get({ conditions: { ifMatch: '"nope"' } })).toBe('PreconditionFailed')
    expect(await get({ range: { start: 1e9 } })).toBe('InvalidRange')
    expect(openFds()).toBe(baseline)
  })
})

describe('ranges', () => {
  const DATA = '0123456789'

  it.each([
    [{ start: 0, end: 4 }, '01234', { start: 0, end: 4 }],
    [{ start: 5 }, '56789', { start: 5, end: 9 }],
    [{ start: 9 }, '9', { start: 9, end: 9 }],
    [{ start: 7, end: 100 }, '789', { start: 7, end: 9 }],
    [{ start: 3, end: 3 }, '3', { start: 3, end: 3 }],
    [{ suffix: 3 }, '789', { start: 7, end: 9 }],
    [{ suffix: 50 }, DATA, { start: 0, end: 9 }],
  ] as const)('%j → %s', async (spec, expected, range) => {
    await put('r', DATA)
    const got = await backend.getObject({ bucket: 'bkt', key: 'r', range: spec })
    expect(got.range).toEqual(range)
    expect(got.size).toBe(10)
    expect((await collect(got.body)).toString()).toBe(expected)
  })

  const UNSATISFIABLE = [[{ start: 10 }], [{ start: 11, end: 20 }], [{ suffix: 0 }]] as const
  it.each(UNSATISFIABLE)('%j is 416 with the size', async (spec) => {
    await put('r', DATA)
    const err = await backend.getObject({ bucket: 'bkt', key: 'r', range: spec }).catch((e: unknown) => e)
    expect((err as S3Error).code).toBe('InvalidRange')
    expect((err as S3Error).headers['content-range']).toBe('bytes */10')
  })

  it('any range of an empty object is 416', async () => {
    await put('e', '')
    expect(await code(backend.getObject({ bucket: 'bkt', key: 'e', range: { start: 0 } }))).toBe('InvalidRange')
    expect(await code(backend.getObject({ bucket: 'bkt', key: 'e', range: { suffix: 1 } }))).toBe('InvalidRange')
  })

  it('checks conditions before the range', async () => {
    await put('r', DATA)
    const code304 = await code(
      backend.getObject({ bucket: 'bkt', key: 'r', range: { start: 50 }, conditions: { ifNoneMatch: md5Etag(DATA) } })
    )
    expect(code304).toBe('NotModified')
  })
})

describe('read conditions', () => {
  const past = new Date(Date.now() - 3_600_000)
  const future = new Date(Date.now() + 3_600_000)

  it.each(['x', ''])('evaluates If-* on GET and HEAD (%j)', async (data) => {
    await put('c', data)
    const etag = md5Etag(data)
    const cases = [
      [{ ifMatch: etag }, undefined],
      [{ ifMatch: etag.slice(1, -1) }, undefined],
      [{ ifMatch: '*' }, undefined],
      [{ ifMatch: '"other"' }, 'PreconditionFailed'],
      [{ ifNoneMatch: etag }, 'NotModified'],
      [{ ifNoneMatch: '*' }, 'NotModified'],
      [{ ifNoneMatch: '"other"' }, undefined],
      [{ ifModifiedSince: past }, undefined],
      [{ ifModifiedSince: future }, 'NotModified'],
      [{ ifUnmodifiedSince: future }, undefined],
      [{ ifUnmodifiedSince: past }, 'PreconditionFailed'],
      [{ ifMatch: etag, ifUnmodifiedSince: past }, undefined],
      [{ ifNoneMatch: '"other"', ifModifiedSince: future }, undefined],
    ] as const
    for (const [conditions, expected] of cases) {
      const get = () => backend.getObject({ bucket: 'bkt', key: 'c', conditions })
      const head = () => backend.headObject('bkt', 'c', conditions)
      if (expected === undefined) {
        expect((await collect((await get()).body)).toString()).toBe(data)
        expect((await head()).etag).toBe(etag)
      } else {
        expect(await code(get())).toBe(expected)
        expect(await code(head())).toBe(expected)
      }
    }
  })
})

describe('conditional writes', () => {
  it('If-None-Match: * creates only', async () => {
    const create = () =>
      putBody('once', chunks('v1'), 2, { ifNoneMatch: '*' })
    await create()
    expect(await code(create())).toBe('PreconditionFailed')
    expect(await read('once')).toBe('v1')
    await expectLayout()
  })

  it('If-Match replaces only the expected version, and is NoSuchKey for a missing key', async () => {
    const { etag } = await put('cas', 'v1')
    const replace = (ifMatch: string, data: string) =>
      putBody('cas', chunks(data), data.length, { ifMatch })
    expect(await code(replace('"0000"', 'v2'))).toBe('PreconditionFailed')
    await replace(etag, 'v2')
    expect(await code(replace(etag, 'v3'))).toBe('PreconditionFailed')
    expect(await read('cas')).toBe('v2')
    expect(
      await code(putBody('nokey', chunks('x'), 1, { ifMatch: etag }))
    ).toBe('NoSuchKey')
    await expectLayout()
  })

  it('exactly one of two racing If-None-Match: * writes wins', async () => {
    const a = gatedBody('a', 'a')
    const b = gatedBody('b', 'b')
    const writeA = putBody('race', a.body, 2, { ifNoneMatch: '*' })
    const writeB = putBody('race', b.body, 2, { ifNoneMatch: '*' })
    await Promise.all([a.reached, b.reached]) // both passed the early check
    a.release()
    b.release()
    const results = await Promise.allSettled([writeA, writeB])
    const won = results.findIndex((r) => r.status === 'fulfilled')
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect((lost.reason as S3Error).code).toBe('PreconditionFailed')
    expect(await read('race')).toBe(won === 0 ? 'aa' : 'bb')
    await expectLayout()
  })

  it('fails a doomed write before reading the body', async () => {
    await put('exists', 'x')
    let pulled = false
    async function* body(): AsyncGenerator<Uint8Array> {
      pulled = true
      yield Buffer.from('y')
    }
    expect(
      await code(putBody('exists', body(), 1, { ifNoneMatch: '*' }))
    ).toBe('PreconditionFailed')
    expect(pulled).toBe(false)
  })
})

describe('listing through the store', () => {
  const KEYS = ['a', 'a/b', 'a/c/d', 'a/c/e', 'b', 'b/', 'c/x', 'd', 'z', '\ue000', '😀']

  beforeEach(async () => {
    // Written in reverse so no ordering can come from creation order.
    for (const key of [...KEYS].reverse()) await put(key, key)
  })

  it.each([
    [{}, KEYS, []],
    [{ prefix: 'a/' }, ['a/b', 'a/c/d', 'a/c/e'], []],
    [{ delimiter: '/' }, ['a', 'b', 'd', 'z', '\ue000', '😀'], ['a/', 'b/', 'c/']],
    [{ prefix: 'a/', delimiter: '/' }, ['a/b'], ['a/c/']],
    [{ marker: 'b' }, ['b/', 'c/x', 'd', 'z', '\ue000', '😀'], []],
    [{ startAfter: 'z' }, ['\ue000', '😀'], []],
    [{ delimiter: '/', marker: 'a/' }, ['b', 'd', 'z', '\ue000', '😀'], ['b/', 'c/']],
  ] as const)('%j', async (window, objects, prefixes) => {
    const page = await backend.listObjects({ bucket: 'bkt', maxKeys: 1000, ...window })
    expect(page.objects.map((o) => o.key)).toEqual(objects)
    expect(page.commonPrefixes).toEqual(prefixes)
    expect(page.isTruncated).toBe(false)
    for (const o of page.objects) expect(o).toMatchObject({ size: Buffer.byteLength(o.key), etag: md5Etag(o.key) })
  })

  it.each([0, 8, 9, 10])('pages with a continuation token (delimiter, maxKeys %i of 9 items)', async (maxKeys) => {
    const page = await backend.listObjects({ bucket: 'bkt', delimiter: '/', maxKeys })
    if (maxKeys === 0) {
      expect(page).toEqual({ objects: [], commonPrefixes: [], isTruncated: false })
      return
    }
    expect(page.isTruncated).toBe(maxKeys < 9)
    expect(page.objects.length + page.commonPrefixes.length).toBe(Math.min(maxKeys, 9))
  })

  it('skips every key under a common prefix that ended the previous page', async () => {
    const first = await backend.listObjects({ bucket: 'bkt', delimiter: '/', maxKeys: 2 })
    expect(first.objects.map((o) => o.key)).toEqual(['a'])
    expect(first.commonPrefixes).toEqual(['a/'])
    expect(first.nextMarker).toBe('a/')
    const token = first.nextContinuationToken
    const v2 = await backend.listObjects({ bucket: 'bkt', delimiter: '/', maxKeys: 2, continuationToken: token })
    expect(v2.objects.map((o) => o.key)).toEqual(['b'])
    expect(v2.commonPrefixes).toEqual(['b/'])
    const v1 = await backend.listObjects({ bucket: 'bkt', delimiter: '/', maxKeys: 2, marker: first.nextMarker })
    expect(v1).toEqual(v2)
    const last = await backend.listObjects({ bucket: 'bkt', delimiter: '/', maxKeys: 5, marker: 'b/' })
    expect(last.objects.map((o) => o.key)).toEqual(['d', 'z', '\ue000', '😀'])
    expect(last.commonPrefixes).toEqual(['c/'])
    expect(last.isTruncated).toBe(false)
    expect(last.nextMarker).toBeUndefined()
    expect(last.nextContinuationToken).toBeUndefined()
  })

  it('rejects a continuation token it did not issue', async () => {
    const listing = backend.listObjects({ bucket: 'bkt', maxKeys: 10, continuationToken: 'bogus' })
    expect(await code(listing)).toBe('InvalidArgument')
  })

  it('lists the remaining objects while others are deleted', async () => {
    await Promise.all([backend.deleteObject('bkt', 'a'), backend.listObjects({ bucket: 'bkt', maxKeys: 1000 })])
    expect((await backend.listObjects({ bucket: 'bkt', maxKeys: 1000 })).objects).toHaveLength(KEYS.length - 1)
  })
})

describe('durability option', () => {
  it('works with fsync disabled', async () => {
    const fast = await createFilesystemBackend({ dataDir: join(root, 'data'), fsync: false })
    await fast.putObject({ bucket: 'bkt', key: 'k', body: chunks('v'), contentLength: 1, metadata: NO_META })
    expect((await stat(join(dataDir, 'buckets', 'bkt', 'bucket.json'))).isFile()).toBe(true)
    const record = await readFile(join(dataDir, 'buckets', 'bkt', 'bucket.json'), 'utf8')
    expect(JSON.parse(record)).toMatchObject({ name: 'bkt' })
    expect(await read('k')).toBe('v')
  })
})
