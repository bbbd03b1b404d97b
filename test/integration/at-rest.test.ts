/**
 * What actually lands in the store, read behind the gateway's back: directly from RGW with RGW's own
 * credentials, and straight from the disk store's object files. Stored objects must be ciphertext of
 * exactly G(P) bytes (storedSize, src/crypto/format.ts) with none of the plaintext in them, their
 * metadata must carry only the gateway's s3veil-* envelope names plus the user's own, and no
 * s3veil-* name may ever reach a client. Then the store is tampered with — a flipped byte, a
 * truncation, two objects swapped, one object copied onto another key — and a GET through the gateway
 * must fail (an error status, or a connection cut before Content-Length) and never return wrong bytes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests } from '../helpers/rgw.js'
import { NONCE_SIZE, SEGMENT_SIZE, STORED_SEGMENT_SIZE, storedSize } from '../../src/crypto/format.js'
import {
  MiB,
  markerBytes,
  md5Hex,
  objectPath,
  sdkError,
  signedRequest,
  startTarget,
  uniqueBucket,
  type BackendKind,
  type RawResponse,
  type Target,
} from './support.js'

const rgw = await rgwForTests()
const BACKENDS: BackendKind[] = ['disk', 'rgw']
const MARKER = 'S3VEIL-PLAINTEXT-MARKER-'

/** What the store holds for one key, and a way to put something else there. */
interface StoredObject {
  data: Buffer
  user: Record<string, string>
  contentType?: string
}

interface Store {
  read(bucket: string, key: string): Promise<StoredObject>
  write(bucket: string, key: string, object: StoredObject): Promise<void>
  /** The store's own copy (RGW CopyObject; on disk, the file with its key rewritten). */
  copy(bucket: string, from: string, to: string): Promise<void>
  list(bucket: string): Promise<{ key: string; size: number }[]>
}

/** The disk store's object file: data ‖ metadata JSON ‖ 'S3VO' ‖ u32 version ‖ u32 metadata length. */
interface DiskMeta {
  key: string
  size: number
  etag: string
  lastModified: string
  metadata: { headers: Record<string, string>; user: Record<string, string> }
}

function diskStore(dataDir: string): Store {
  const path = (bucket: string, key: string) => {
    const hash = createHash('sha256').update(key, 'utf8').digest('hex')
    return join(dataDir, 'buckets', bucket, 'objects', hash.slice(0, 2), hash)
  }
  const parse = (file: Buffer): { data: Buffer; meta: DiskMeta } => {
    const metaLength = file.readUInt32BE(file.length - 4)
    const metaStart = file.length - 12 - metaLength
    return { data: file.subarray(0, metaStart), meta: JSON.parse(file.subarray(metaStart, file.length - 12).toString('utf8')) as DiskMeta }
  }
  const build = (data: Buffer, meta: DiskMeta): Buffer => {
    const block = Buffer.from(JSON.stringify({ ...meta, size: data.length }), 'utf8')
    const trailer = Buffer.alloc(12)
    trailer.write('S3VO', 0, 'latin1')
    trailer.writeUInt32BE(1, 4)
    trailer.writeUInt32BE(block.length, 8)
    return Buffer.concat([data, block, trailer])
  }
  return {
    async read(bucket, key) {
      const { data, meta } = parse(await readFile(path(bucket, key)))
      return { data, user: meta.metadata.user, contentType: meta.metadata.headers.contentType }
    },
    async write(bucket, key, object) {
      let meta: DiskMeta
      try {
        meta = parse(await readFile(path(bucket, key))).meta
      } catch {
        meta = { key, size: 0, etag: '"00000000000000000000000000000000"', lastModified: new Date().toISOString(), metadata: { headers: {}, user: {} } }
      }
      const headers = { ...meta.metadata.headers, ...(object.contentType ? { contentType: object.contentType } : {}) }
      await writeFile(path(bucket, key), build(object.data, { ...meta, key, metadata: { headers, user: object.user } }))
    },
    async copy(bucket, from, to) {
      const { data, meta } = parse(await readFile(path(bucket, from)))
      await writeFile(path(bucket, to), build(data, { ...meta, key: to }))
    },
    async list(bucket) {
      throw new Error(`listing the disk store directly is not needed (${bucket})`)
    },
  }
}

function rgwStore(client: S3Client): Store {
  return {
    async read(bucket, key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      return { data: Buffer.from(await out.Body!.transformToByteArray()), user: out.Metadata ?? {}, contentType: out.ContentType }
    },
    async write(bucket, key, object) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: object.data, Metadata: object.user, ContentType: object.contentType }))
    },
    async copy(bucket, from, to) {
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: `${bucket}/${encodeURIComponent(from)}`, MetadataDirective: 'COPY' }))
    },
    async list(bucket) {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
      return (out.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size! }))
    },
  }
}

function flip(data: Buffer, at: number, mask: number): void {
  data.writeUInt8(data.readUInt8(at) ^ mask, at)
}

function isPrefixOf(received: Buffer, original: Buffer): boolean {
  return received.length <= original.length && original.subarray(0, received.length).equals(received)
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`${kind} backend: the stored form`, () => {
    let t: Target
    let s3: S3Client
    let store: Store
    let bucket: string
    const plainBucket = uniqueBucket('plain')

    beforeAll(async () => {
      t = await startTarget(kind, rgw, { extra: { plaintextBuckets: [plainBucket] } })
      s3 = t.client()
      store = kind === 'rgw' ? rgwStore(t.upstream!) : diskStore(t.gw.dataDir)
      bucket = t.bucketName('rest')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      await s3.send(new CreateBucketCommand({ Bucket: plainBucket }))
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
    })

    /** GET through the gateway must not deliver wrong bytes: an error, or a cut short prefix of the truth. */
    async function expectNoWrongBytes(key: string, original: Buffer, label: string): Promise<RawResponse> {
      const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket, key) })
      if (res.status >= 200 && res.status < 300) {
        const declared = Number(res.headers['content-length'])
        const cut = !res.complete || res.body.length < declared
        expect(cut, `${label}: a ${res.status} that ran to its end (${res.body.length} of ${declared} bytes)`).toBe(true)
        expect(isPrefixOf(res.body, original), `${label}: delivered bytes that are not the object's`).toBe(true)
      } else {
        expect(res.status, label).toBeGreaterThanOrEqual(400)
        expect(res.body.includes(original.subarray(0, 32)), label).toBe(false)
      }
      // The SDK, as a client, must see a failure too.
      const viaSdk = await s3
        .send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        .then(async (out) => Buffer.from(await out.Body!.transformToByteArray()))
        .catch((err: unknown) => err)
      expect(viaSdk instanceof Buffer, `${label}: the SDK read the object without an error`).toBe(false)
      return res
    }

    it.each([0, 1, 65535, 65536, 65537, 200_000, 3 * MiB])('a %i-byte object is stored as G(P) bytes of ciphertext with no plaintext in it', async (size) => {
      const plain = markerBytes(size, MARKER)
      const key = `size/${size}`
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: plain, ContentType: 'text/plain', Metadata: { owner: 'alice', note: 'kept' } }))
      const stored = await store.read(bucket, key)
      expect(stored.data.length).toBe(storedSize(size))
      if (size >= MARKER.length) expect(stored.data.includes(Buffer.from(MARKER))).toBe(false)
      if (size >= 16) expect(stored.data.includes(plain.subarray(0, 16))).toBe(false)
      // Only envelope names and the user's own.
      const names = Object.keys(stored.user)
      expect(names.filter((n) => !n.startsWith('s3veil-')).sort()).toEqual(['note', 'owner'])
      expect(names.some((n) => n.startsWith('s3veil-'))).toBe(true)
      expect(stored.user.owner).toBe('alice')
      expect(Object.values(stored.user).join('\n')).not.toContain(MARKER)

      // Clients see the plaintext size and never an s3veil-* name.
      for (const method of ['HEAD', 'GET'] as const) {
        const res = await signedRequest(t, { method, path: objectPath(bucket, key) })
        expect(res.status).toBe(200)
        expect(res.headers['content-length']).toBe(String(size))
        expect(Object.keys(res.headers).filter((h) => h.startsWith('x-amz-meta-')).sort()).toEqual(['x-amz-meta-note', 'x-amz-meta-owner'])
        expect(Object.keys(res.headers).some((h) => h.startsWith('x-amz-meta-s3veil') || h.startsWith('x-rgw'))).toBe(false)
        if (method === 'GET') expect(res.body.equals(plain)).toBe(true)
      }
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      expect(head.Metadata).toEqual({ owner: 'alice', note: 'kept' })
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))
      expect(listed.Contents?.map((o) => o.Size)).toEqual([size])
      if (kind === 'rgw') {
        const direct = await store.list(bucket)
        expect(direct.find((o) => o.key === key)?.size).toBe(storedSize(size))
      }
    })

    it('the same plaintext under two keys is stored as unrelated ciphertext (a fresh data key per object)', async () => {
      const plain = markerBytes(100_000, MARKER)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'twin/a', Body: plain }))
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'twin/b', Body: plain }))
      const [a, b] = [await store.read(bucket, 'twin/a'), await store.read(bucket, 'twin/b')]
      expect(a.data.length).toBe(b.data.length)
      expect(a.data.subarray(0, 4096).equals(b.data.subarray(0, 4096))).toBe(false)
      expect(a.user['s3veil-dek']).not.toBe(b.user['s3veil-dek'])
    })

    it('clients cannot set x-amz-meta-s3veil-* themselves', async () => {
      const err = await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'reserved', Body: 'x', Metadata: { 's3veil-dek': 'forged' } })))
      expect(err).toMatchObject({ name: 'InvalidArgument', status: 400 })
      expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'reserved' })))).status).toBe(404)
    })

    it('a plaintext bucket (plaintextBuckets) is stored as sent, with the MD5 ETag', async () => {
      const plain = markerBytes(70_000, MARKER)
      const out = await s3.send(new PutObjectCommand({ Bucket: plainBucket, Key: 'p', Body: plain }))
      expect(out.ETag).toBe(`"${md5Hex(plain)}"`)
      const stored = await store.read(plainBucket, 'p')
      expect(stored.data.equals(plain)).toBe(true)
      expect(Object.keys(stored.user).some((n) => n.startsWith('s3veil-'))).toBe(false)
      const back = await s3.send(new GetObjectCommand({ Bucket: plainBucket, Key: 'p' }))
      expect(Buffer.from(await back.Body!.transformToByteArray()).equals(plain)).toBe(true)
    })

    describe('tampering in the store is detected, never served as data', () => {
      const SIZE = 200_000 // four segments: three full, one partial
      const objects = new Map<string, Buffer>()

      async function fresh(key: string): Promise<Buffer> {
        const plain = randomBytes(SIZE)
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: plain }))
        objects.set(key, plain)
        return plain
      }

      it('a flipped byte in the second segment: GET fails; a range inside the first segment is still exact', async () => {
        const plain = await fresh('t/flip')
        const stored = await store.read(bucket, 't/flip')
        flip(stored.data, STORED_SEGMENT_SIZE + NONCE_SIZE + 500, 0x01)
        await store.write(bucket, 't/flip', stored)
        const res = await expectNoWrongBytes('t/flip', plain, 'flip')
        expect(res.body.length).toBeLessThanOrEqual(SEGMENT_SIZE)

        const first = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 't/flip'), headers: { range: 'bytes=0-99' } })
        if (first.status === 206) expect(first.body.equals(plain.subarray(0, 100))).toBe(true)
        const second = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 't/flip'), headers: { range: `bytes=${SEGMENT_SIZE}-${SEGMENT_SIZE + 99}` } })
        const delivered = second.status === 206 && second.complete && second.body.length === 100
        expect(delivered, 'a range over the flipped segment was served').toBe(false)
      })

      it('a flipped byte in a nonce, in a tag, and in the trailer: GET fails', async () => {
        const positions: [string, (size: number) => number][] = [
          ['nonce of segment 0', () => 3],
          ['tag of segment 2', () => 3 * STORED_SEGMENT_SIZE - 2],
          ['footer', (size) => size - 5],
          ['manifest / padding', (size) => size - 40],
        ]
        for (const [label, at] of positions) {
          const key = `t/flip-${label.replace(/\W+/g, '-')}`
          const plain = await fresh(key)
          const stored = await store.read(bucket, key)
          flip(stored.data, at(stored.data.length), 0x80)
          await store.write(bucket, key, stored)
          await expectNoWrongBytes(key, plain, label)
        }
      })

      it('truncation: to an invalid size, and to the valid stored size of a shorter object', async () => {
        const plain = await fresh('t/trunc')
        const stored = await store.read(bucket, 't/trunc')
        await store.write(bucket, 't/trunc', { ...stored, data: stored.data.subarray(0, stored.data.length - 100) })
        await expectNoWrongBytes('t/trunc', plain, 'cut by 100 bytes')

        const plain2 = await fresh('t/trunc-valid')
        const stored2 = await store.read(bucket, 't/trunc-valid')
        const shorter = storedSize(2 * SEGMENT_SIZE)
        await store.write(bucket, 't/trunc-valid', { ...stored2, data: stored2.data.subarray(0, shorter) })
        await expectNoWrongBytes('t/trunc-valid', plain2, 'cut to G(128 KiB)')
        // HEAD now believes 128 KiB; a ranged read that touches that (false) end must fail, since the
        // segment there was not written as the last one (docs/format.md §8).
        const tail = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 't/trunc-valid'), headers: { range: `bytes=${SEGMENT_SIZE}-` } })
        const served = tail.status === 206 && tail.complete && tail.body.length === Number(tail.headers['content-length'])
        expect(served, 'a range over the new end of a truncated object was served').toBe(false)
        if (tail.status === 206) expect(isPrefixOf(tail.body, plain2.subarray(SEGMENT_SIZE))).toBe(true)

        const plain3 = await fresh('t/trunc-zero')
        const stored3 = await store.read(bucket, 't/trunc-zero')
        await store.write(bucket, 't/trunc-zero', { ...stored3, data: Buffer.alloc(0) })
        await expectNoWrongBytes('t/trunc-zero', plain3, 'emptied')
      })

      it('an extra byte appended: GET fails', async () => {
        const plain = await fresh('t/append')
        const stored = await store.read(bucket, 't/append')
        await store.write(bucket, 't/append', { ...stored, data: Buffer.concat([stored.data, Buffer.from([0])]) })
        await expectNoWrongBytes('t/append', plain, 'appended')
      })

      it('two objects swapped (bodies and metadata): each GET fails', async () => {
        const a = await fresh('t/swap-a')
        const b = await fresh('t/swap-b')
        const [sa, sb] = [await store.read(bucket, 't/swap-a'), await store.read(bucket, 't/swap-b')]
        await store.write(bucket, 't/swap-a', sb)
        await store.write(bucket, 't/swap-b', sa)
        await expectNoWrongBytes('t/swap-a', a, 'swap a')
        await expectNoWrongBytes('t/swap-b', b, 'swap b')
        // …and neither delivers the other's plaintext either.
        const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 't/swap-a') })
        expect(res.body.length > 32 && b.includes(res.body.subarray(0, 32))).toBe(false)
      })

      it('bodies swapped but envelopes kept: each GET fails', async () => {
        const a = await fresh('t/body-a')
        const b = await fresh('t/body-b')
        const [sa, sb] = [await store.read(bucket, 't/body-a'), await store.read(bucket, 't/body-b')]
        await store.write(bucket, 't/body-a', { ...sa, data: sb.data })
        await store.write(bucket, 't/body-b', { ...sb, data: sa.data })
        await expectNoWrongBytes('t/body-a', a, 'body swap a')
        await expectNoWrongBytes('t/body-b', b, 'body swap b')
      })

      it('an object copied onto another key by the store itself: GET of the copy fails, the original still reads', async () => {
        const a = await fresh('t/copy-src')
        await fresh('t/copy-dst')
        await store.copy(bucket, 't/copy-src', 't/copy-dst')
        await expectNoWrongBytes('t/copy-dst', objects.get('t/copy-dst')!, 'copy onto existing key')
        await store.copy(bucket, 't/copy-src', 't/copy-new')
        await expectNoWrongBytes('t/copy-new', a, 'copy onto a new key')
        const original = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 't/copy-src' }))
        expect(Buffer.from(await original.Body!.transformToByteArray()).equals(a)).toBe(true)
      })

      it('envelope metadata removed or edited: GET fails', async () => {
        const a = await fresh('t/env-gone')
        const sa = await store.read(bucket, 't/env-gone')
        const bare = Object.fromEntries(Object.entries(sa.user).filter(([n]) => !n.startsWith('s3veil-')))
        await store.write(bucket, 't/env-gone', { ...sa, user: bare })
        await expectNoWrongBytes('t/env-gone', a, 'envelope removed')

        const b = await fresh('t/env-edit')
        const sb = await store.read(bucket, 't/env-edit')
        const oid = sb.user['s3veil-oid']!
        const edited = { ...sb.user, 's3veil-oid': (oid[0] === 'A' ? 'B' : 'A') + oid.slice(1) }
        await store.write(bucket, 't/env-edit', { ...sb, user: edited })
        await expectNoWrongBytes('t/env-edit', b, 'object id edited')
      })

      it('the untouched objects of this test still read back exactly (control)', async () => {
        const plain = await fresh('t/control')
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 't/control' }))
        expect(Buffer.from(await out.Body!.transformToByteArray()).equals(plain)).toBe(true)
      })
    })
  })
}
