/**
 * @module bench/workloads
 * What is measured, identically against every target: one large object PUT from a stream and GET
 * back (verified), and many small objects PUT, GET (verified) and deleted with fixed concurrency.
 *
 * Every target gets an S3Client configured the same way, so the client side costs the same for
 * the direct, pass-through and encrypted paths: checksums only when an operation requires them
 * (RGW 16 refuses the SDK's default streamed trailing checksums anyway), no SDK retries (a failure
 * must show, not be absorbed into the timing), and a keep-alive agent sized for the concurrency.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { Agent } from 'node:http'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'

export interface Target {
  id: 'a' | 'b' | 'c'
  label: string
  client: S3Client
  bucket: string
  /**
   * The gateway process whose RSS and CPU are watched while this target is measured: the one serving
   * it, or for the direct path to RGW the gateway at rest (its baseline).
   */
  watchPid: number
}

export function makeClient(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, concurrency: number): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: {
      // Twice the concurrency so a socket still closing never makes a request wait for a new one.
      httpAgent: new Agent({ keepAlive: true, maxSockets: concurrency * 2 }),
      connectionTimeout: 10_000,
      // An idle-socket limit: a stalled transfer fails, while a slow 1 GiB one may take as long as it
      // needs (the run as a whole is bounded by --timeout).
      socketTimeout: 120_000,
    },
  })
}

/**
 * Pseudo-random content without per-byte cost: a pool of AES-CTR keystream (incompressible) of
 * odd length, emitted cyclically. Because the period is odd, no two 64 KiB-aligned windows of a
 * stream up to 5 GiB are equal, so a gateway that swapped or repeated segments would still fail the
 * hash check; and the client spends no CPU generating bytes on a machine it shares with the gateway
 * and the store.
 */
const POOL_LENGTH = 8 * 1024 * 1024 + 4099
const POOL = (() => {
  const seed = createHash('sha256').update('s3veil bench').digest()
  const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(POOL_LENGTH)), cipher.final()])
})()

function* cyclicBytes(total: number, maxChunk = 1024 * 1024): Generator<Buffer> {
  let position = 0
  let remaining = total
  while (remaining > 0) {
    const n = Math.min(maxChunk, remaining, POOL_LENGTH - position)
    yield POOL.subarray(position, position + n)
    position = (position + n) % POOL_LENGTH
    remaining -= n
  }
}

/** A distinct 4 KiB (or `size`) body per index, as a view into the pool. */
export function smallBody(index: number, size: number): Buffer {
  const start = (index * 7919 * 13) % (POOL_LENGTH - size)
  return POOL.subarray(start, start + size)
}

export async function createBucket(target: Target, signal: AbortSignal): Promise<void> {
  await target.client.send(new CreateBucketCommand({ Bucket: target.bucket }), { abortSignal: signal })
}

export interface LargeResult {
  seconds: number
  /** Running CRC-32 of the bytes sent or received (zlib's native one: ~4.7 GiB/s here). */
  crc: number
  bytes: number
}

/**
 * One PutObject with a streamed body and ContentLength (multipart is not implemented yet). The
 * generator hashes what it hands over, so the GET is checked against what was actually sent.
 */
export async function putLarge(target: Target, key: string, size: number, signal: AbortSignal): Promise<LargeResult> {
  let crc = 0
  let bytes = 0
  function* hashed(): Generator<Buffer> {
    for (const chunk of cyclicBytes(size)) {
      crc = crc32(chunk, crc)
      bytes += chunk.byteLength
      yield chunk
    }
  }
  const body = Readable.from(hashed(), { objectMode: false, highWaterMark: 1024 * 1024 })
  const started = performance.now()
  await target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentLength: size }), {
    abortSignal: signal,
  })
  const seconds = (performance.now() - started) / 1000
  if (bytes !== size) throw new Error(`PUT sent ${bytes} bytes, expected ${size}`)
  return { seconds, crc, bytes }
}

/** GetObject drained as a stream (never buffered whole), with a running CRC-32 of what arrived. */
export async function getLarge(target: Target, key: string, signal: AbortSignal): Promise<LargeResult> {
  const started = performance.now()
  const out = await target.client.send(new GetObjectCommand({ Bucket: target.bucket, Key: key }), { abortSignal: signal })
  let crc = 0
  let bytes = 0
  for await (const chunk of out.Body as Readable) {
    crc = crc32(chunk as Buffer, crc)
    bytes += (chunk as Buffer).byteLength
  }
  return { seconds: (performance.now() - started) / 1000, crc, bytes }
}

export async function deleteObject(target: Target, key: string, signal: AbortSignal): Promise<void> {
  await target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }), { abortSignal: signal })
}

/** Runs `task(0..count-1)` with `concurrency` in flight; the first failure stops the rest. */
async function pool(count: number, concurrency: number, signal: AbortSignal, task: (index: number) => Promise<void>): Promise<number> {
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && !signal.aborted && next < count) {
      const index = next++
      try {
        await task(index)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  signal.throwIfAborted()
  return (performance.now() - started) / 1000
}

export const smallKey = (index: number) => `small/${String(index).padStart(6, '0')}`

export interface SmallOptions {
  count: number
  size: number
  concurrency: number
  /** Key offset, so warm-up objects never collide with measured ones. */
  first?: number
}

export function putSmall(target: Target, o: SmallOptions, signal: AbortSignal): Promise<number> {
  const first = o.first ?? 0
  return pool(o.count, o.concurrency, signal, async (i) => {
    await target.client.send(
      new PutObjectCommand({ Bucket: target.bucket, Key: smallKey(first + i), Body: smallBody(first + i, o.size), ContentLength: o.size }),
      { abortSignal: signal }
    )
  })
}

/** GETs every object and compares it byte for byte with what was PUT. */
export function getSmall(target: Target, o: SmallOptions, signal: AbortSignal): Promise<number> {
  const first = o.first ?? 0
  return pool(o.count, o.concurrency, signal, async (i) => {
    const out = await target.client.send(new GetObjectCommand({ Bucket: target.bucket, Key: smallKey(first + i) }), {
      abortSignal: signal,
    })
    const got = await out.Body!.transformToByteArray()
    if (!Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(smallBody(first + i, o.size))) {
      throw new Error(`GET ${target.bucket}/${smallKey(first + i)}: content differs from what was PUT (${got.byteLength} bytes)`)
    }
  })
}

export function deleteSmall(target: Target, o: SmallOptions, signal: AbortSignal): Promise<number> {
  const first = o.first ?? 0
  return pool(o.count, o.concurrency, signal, (i) => deleteObject(target, smallKey(first + i), signal))
}
