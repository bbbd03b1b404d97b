/**
 * @module backend/filesystem
 * The embedded default store: a faithful single-tenant S3 bucket/object store on local disk.
 * Node-only. Sits behind the encrypting decorator, but is a complete S3 store on its own.
 *
 * On-disk layout under `dataDir`:
 *
 *   tmp/                                  staging area, same filesystem, emptied at startup
 *   buckets/<bucket>/bucket.json          {"name","creationDate"}: the bucket exists iff this does
 *   buckets/<bucket>/objects/<hh>/<hash>  one file per object; hash = hex SHA-256 of the key's
 *                                         UTF-8 bytes, hh = its first two hex digits (all 256
 *                                         shard directories are created with the bucket)
 *   buckets/<bucket>/uploads/<id>/        one multipart upload (created on first use):
 *     upload.json                         {"key","uploadId","initiated","metadata"}
 *     <nnnnn>                             part n (5 digits), in the object file format below
 *
 * Paths never contain key text, so no key ('/', '..', NUL, '%', 1024 bytes, any Unicode) can
 * escape `dataDir` or collide with another; bucket names are validated (s3/names.ts) before they
 * reach a path, and valid names cannot contain '/' or be '.'/'..'.
 *
 * Object file: `data ‖ metadata JSON (UTF-8) ‖ trailer`, trailer = 'S3VO' ‖ u32 BE version (1) ‖
 * u32 BE metadata length. Metadata: key, size, etag, lastModified, content headers, user
 * metadata. Data and metadata live in one file so that publishing or replacing an object is one
 * atomic rename(2), and a reader holding the file open keeps a consistent old version.
 *
 * Writes: the body streams into tmp/<random> while its MD5 is computed; the byte count must equal
 * `contentLength`; the file is fsynced (option `fsync`, default true, so a power loss cannot leave
 * a renamed but empty object) and renamed into place, then the shard directory is fsynced. Any
 * failure unlinks the temp file and rethrows the original error, so nothing partial is visible.
 *
 * Concurrency: an in-process lock table makes `If-Match`/`If-None-Match` check-then-rename atomic
 * per key, and keeps DeleteBucket's emptiness check and removal from interleaving with object
 * writes in the same bucket. Safe for one process per `dataDir` only (startup empties tmp/, and
 * the locks are not shared between processes).
 *
 * Multipart: an upload id is 12 hex digits of the start time (ms) and 32 random hex digits, so ids
 * are unguessable, sort by start time within a key (as S3 lists them), and are checked against that
 * pattern before they reach a path. A part is written like an object (temp file, then rename over
 * any earlier part with that number). Complete streams the listed parts into one temp object file
 * and renames it into place, then removes the upload directory; until that rename nothing is visible
 * and the upload stays as it was. An upload lock per upload orders part renames (shared) against
 * complete and abort (exclusive); locks are always taken bucket → upload → key.
 *
 * Listing reads the metadata block of every object in the bucket, then sorts and pages in memory
 * (backend/listing.ts): O(objects in bucket) file reads per ListObjects call, whatever the prefix.
 * Fine for the embedded use; a persistent key index would be the next step if buckets grow large.
 */
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type {
  Backend,
  BucketInfo,
  ByteRange,
  CompleteMultipartUploadInput,
  CompleteMultipartUploadOutput,
  Conditions,
  CopyObjectInput,
  CopyObjectOutput,
  DeleteObjectsOutput,
  GetObjectInput,
  GetObjectOutput,
  HeadObjectOutput,
  ListedObject,
  ListObjectsInput,
  ListMultipartUploadsInput,
  ListMultipartUploadsOutput,
  ListObjectsOutput,
  ListPartsInput,
  ListPartsOutput,
  MultipartUploadInfo,
  ObjectInfo,
  ObjectMetadata,
  PutObjectInput,
  PutObjectOutput,
  UploadedPart,
  UploadPartInput,
  UploadPartOutput,
  UploadRef,
} from './types.js'
import { listPage, sortByKey } from './listing.js'
import { checkCopySourceSize, checkSourceConditions } from './copy.js'
import {
  compareUploads,
  isValidPartNumber,
  noSuchUpload,
  pageParts,
  pageUploads,
  partRange,
  resolveCompletedParts,
} from './multipart.js'
import { S3Error, isS3Error } from '../s3/errors.js'
import { checkReadConditions, checkWriteConditions } from '../s3/conditions.js'
import { resolveRange } from '../s3/range.js'
import { validateBucketName, validateObjectKey } from '../s3/names.js'

export interface FilesystemBackendOptions {
  dataDir: string
  /** Region reported by GetBucketLocation; default us-east-1. */
  region?: string
  /** fsync object files and their directory before a write is acknowledged; default true. */
  fsync?: boolean
}

const TRAILER_MAGIC = 0x5333564f // 'S3VO'
const FORMAT_VERSION = 1
const TRAILER_BYTES = 12
/** One read at the end usually covers metadata and trailer (key ≤ 1 KiB, user metadata ≤ 2 KiB). */
const TAIL_READ_BYTES = 8 * 1024
const READ_CHUNK_BYTES = 1024 * 1024
/** Body chunks smaller than this are coalesced into writes of up to this size. */
const WRITE_BATCH_BYTES = 256 * 1024
const DELETE_CONCURRENCY = 16
const LIST_READ_CONCURRENCY = 32
const OBJECT_FILE = /^[0-9a-f]{64}$/
/** Start time (12 hex digits of ms) ‖ 128 random bits: see the module comment. */
const UPLOAD_ID = /^[0-9a-f]{44}$/
const PART_FILE = /^\d{5}$/
const UPLOAD_RECORD = 'upload.json'

/** What upload.json holds. */
interface StoredUpload {
  key: string
  uploadId: string
  /** ISO-8601. */
  initiated: string
  metadata: ObjectMetadata
}

/** Everything stored about an object besides its bytes. */
interface StoredMeta {
  key: string
  size: number
  etag: string
  /** ISO-8601, whole seconds (S3 reports Last-Modified to the second). */
  lastModified: string
  metadata: ObjectMetadata
  /** A completed multipart upload's part sizes, in order (for partNumber reads); absent for other objects. */
  parts?: number[]
}

interface OpenedObject {
  handle: FileHandle
  meta: StoredMeta
  info: ObjectInfo
}

type LockMode = 'shared' | 'exclusive'

interface LockState {
  active: number
  exclusive: boolean
  waiting: { mode: LockMode; grant: () => void }[]
}

/** In-process FIFO readers/writer locks by name; entries disappear when idle. */
class LockTable {
  readonly #locks = new Map<string, LockState>()

  async run<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
    await this.#acquire(name, mode)
    try {
      return await fn()
    } finally {
      this.#release(name, mode)
    }
  }

  #acquire(name: string, mode: LockMode): Promise<void> | void {
    let state = this.#locks.get(name)
    if (!state) {
      state = { active: 0, exclusive: false, waiting: [] }
      this.#locks.set(name, state)
    }
    if (state.waiting.length === 0 && compatible(state, mode)) {
      take(state, mode)
      return
    }
    const queued = state
    return new Promise((resolve) => queued.waiting.push({ mode, grant: resolve }))
  }

  #release(name: string, mode: LockMode): void {
    const state = this.#locks.get(name)!
    state.active--
    if (mode === 'exclusive') state.exclusive = false
    while (state.waiting.length > 0 && compatible(state, state.waiting[0]!.mode)) {
      const next = state.waiting.shift()!
      take(state, next.mode)
      next.grant()
    }
    if (state.active === 0 && state.waiting.length === 0) this.#locks.delete(name)
  }
}

function compatible(state: LockState, mode: LockMode): boolean {
  return mode === 'shared' ? !state.exclusive : state.active === 0
}

function take(state: LockState, mode: LockMode): void {
  state.active++
  if (mode === 'exclusive') state.exclusive = true
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  return String((err as { code: unknown }).code)
}

function noSuchBucket(bucket: string): S3Error {
  return new S3Error('NoSuchBucket', undefined, { fields: { BucketName: bucket } })
}

function alreadyOwned(bucket: string): S3Error {
  return new S3Error('BucketAlreadyOwnedByYou', undefined, { fields: { BucketName: bucket } })
}

function corrupt(detail: string): S3Error {
  return new S3Error('InternalError', `Stored object is corrupt: ${detail}`)
}

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000)
}

/** Reads exactly `length` bytes at `position`, or fails as corrupt (the file was cut short). */
async function readExactly(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done)
    if (bytesRead === 0) throw corrupt('unexpected end of file')
    done += bytesRead
  }
  return buffer
}

/** Parses the metadata block of an open object file (validating the trailer and sizes). */
async function readMeta(handle: FileHandle): Promise<StoredMeta> {
  const fileSize = (await handle.stat()).size
  if (fileSize < TRAILER_BYTES) throw corrupt('file too small')
  const tailLength = Math.min(fileSize, TAIL_READ_BYTES)
  let tail = await readExactly(handle, tailLength, fileSize - tailLength)
  const trailer = tail.subarray(tail.length - TRAILER_BYTES)
  if (trailer.readUInt32BE(0) !== TRAILER_MAGIC) throw corrupt('bad trailer')
  const version = trailer.readUInt32BE(4)
  if (version !== FORMAT_VERSION) throw corrupt(`unknown format version ${version}`)
  const metaLength = trailer.readUInt32BE(8)
  if (metaLength + TRAILER_BYTES > fileSize) throw corrupt('metadata length out of range')
  if (metaLength + TRAILER_BYTES > tailLength) {
    tail = await readExactly(handle, metaLength + TRAILER_BYTES, fileSize - metaLength - TRAILER_BYTES)
  }
  const block = tail.subarray(tail.length - TRAILER_BYTES - metaLength, tail.length - TRAILER_BYTES)
  let meta: StoredMeta
  try {
    meta = JSON.parse(block.toString('utf8')) as StoredMeta
  } catch {
    throw corrupt('unreadable metadata')
  }
  if (typeof meta.key !== 'string') throw corrupt('no key')
  if (meta.size !== fileSize - metaLength - TRAILER_BYTES) throw corrupt('size mismatch')
  return meta
}

/** Where a partNumber read falls in a stored object (backend/multipart.ts partRange). */
function partOf(meta: StoredMeta, partNumber: number): { range: ByteRange; partsCount?: number } {
  if (meta.parts === undefined && /-\d+"$/.test(meta.etag)) {
    // Completed before part sizes were recorded: its parts cannot be told apart any more.
    throw new S3Error('NotImplemented', 'This object was stored without its part sizes; read it with a Range instead.')
  }
  return partRange(partNumber, meta.size, meta.parts)
}

function toInfo(meta: StoredMeta): ObjectInfo {
  return {
    key: meta.key,
    size: meta.size,
    etag: meta.etag,
    lastModified: new Date(meta.lastModified),
    metadata: { headers: { ...meta.metadata.headers }, user: { ...meta.metadata.user } },
  }
}

/**
 * Streams bytes [start, end] of an open object file in chunks of at most 1 MiB, owning the handle:
 * it is closed at the end, on a read error, or when the consumer calls `return()` (also before
 * the first `next()`, where an async generator's `finally` would never run).
 */
function fileBody(handle: FileHandle, start: number, end: number): AsyncIterableIterator<Uint8Array> {
  let position = start
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await handle.close()
  }
  return {
    [Symbol.asyncIterator]() {
      return this
    },
    async next() {
      if (closed) return { done: true, value: undefined }
      if (position > end) {
        await close()
        return { done: true, value: undefined }
      }
      try {
        const chunk = await readExactly(handle, Math.min(READ_CHUNK_BYTES, end - position + 1), position)
        position += chunk.length
        return { done: false, value: chunk }
      } catch (err) {
        await close().catch(() => undefined)
        throw err
      }
    },
    async return() {
      await close()
      return { done: true, value: undefined }
    },
  }
}

/** Appends all of `data` (a single write(2) may be short). */
async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < data.byteLength) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset)
    offset += bytesWritten
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export async function createFilesystemBackend(options: FilesystemBackendOptions): Promise<Backend> {
  const region = options.region ?? 'us-east-1'
  const durable = options.fsync ?? true
  const bucketsDir = join(options.dataDir, 'buckets')
  const tmpDir = join(options.dataDir, 'tmp')
  const locks = new LockTable()

  await mkdir(bucketsDir, { recursive: true })
  await mkdir(tmpDir, { recursive: true })
  // Leftovers of writes or bucket deletions interrupted by a crash; nothing refers to them.
  for (const entry of await readdir(tmpDir)) await rm(join(tmpDir, entry), { recursive: true, force: true })

  const bucketDir = (bucket: string) => join(bucketsDir, bucket)
  const bucketRecord = (bucket: string) => join(bucketDir(bucket), 'bucket.json')
  const objectsDir = (bucket: string) => join(bucketDir(bucket), 'objects')
  const objectPath = (bucket: string, key: string) => {
    const hash = keyHash(key)
    return join(objectsDir(bucket), hash.slice(0, 2), hash)
  }
  const tempPath = () => join(tmpDir, randomBytes(16).toString('hex'))
  const keyLock = (bucket: string, key: string) => `object\0${bucket}\0${keyHash(key)}`
  const bucketLock = (bucket: string) => `bucket\0${bucket}`

  async function bucketExists(bucket: string): Promise<boolean> {
    try {
      await stat(bucketRecord(bucket))
      return true
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false
      throw err
    }
  }

  async function requireBucket(bucket: string): Promise<void> {
    validateBucketName(bucket)
    if (!(await bucketExists(bucket))) throw noSuchBucket(bucket)
  }

  /** Opens an object file and reads its metadata; undefined when the key does not exist. */
  async function openObject(bucket: string, key: string): Promise<OpenedObject | undefined> {
    let handle: FileHandle
    try {
      handle = await open(objectPath(bucket, key), 'r')
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined
      throw err
    }
    try {
      const meta = await readMeta(handle)
      // Different keys never share a SHA-256 path; a mismatch means the file is not what we wrote.
      if (meta.key !== key) throw corrupt('key mismatch')
      return { handle, meta, info: toInfo(meta) }
    } catch (err) {
      await handle.close().catch(() => undefined)
      throw err
    }
  }

  /** Opens an existing object, or throws NoSuchBucket / NoSuchKey. */
  async function requireObject(bucket: string, key: string): Promise<OpenedObject> {
    validateBucketName(bucket)
    validateObjectKey(key)
    const opened = await openObject(bucket, key)
    if (opened) return opened
    if (!(await bucketExists(bucket))) throw noSuchBucket(bucket)
    throw new S3Error('NoSuchKey', undefined, { fields: { Key: key } })
  }

  async function currentEtag(bucket: string, key: string): Promise<{ etag: string } | undefined> {
    const opened = await openObject(bucket, key)
    if (!opened) return undefined
    await opened.handle.close()
    return { etag: opened.meta.etag }
  }

  async function fsyncDir(path: string): Promise<void> {
    if (!durable) return
    const handle = await open(path, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  /**
   * Streams the body into a temp file with the metadata block appended; returns its path and etag.
   * `etag` replaces the MD5 of the content (a completed multipart upload's ETag is not one); `parts`
   * are a completed upload's part sizes.
   */
  async function writeTemp(
    input: PutObjectInput,
    etag?: string,
    parts?: number[]
  ): Promise<{ path: string; etag: string; lastModified: Date }> {
    const path = tempPath()
    const handle = await open(path, 'wx')
    let closed = false
    try {
      const md5 = etag === undefined ? createHash('md5') : undefined
      let received = 0
      // Small chunks are copied into one batch buffer (fewer, larger writes); big ones are written
      // directly. Either way a chunk is fully consumed before the next is pulled, so a producer
      // that reuses its buffer after yielding cannot corrupt what we store.
      const batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES)
      let batched = 0
      const flush = async () => {
        if (batched === 0) return
        await writeAll(handle, batch.subarray(0, batched))
        batched = 0
      }
      for await (const chunk of input.body) {
        received += chunk.byteLength
        if (received > input.contentLength) {
          throw new S3Error('IncompleteBody', 'The request body is longer than the Content-Length header.', {
            fields: { NumberBytesExpected: input.contentLength, NumberBytesProvided: received },
          })
        }
        md5?.update(chunk)
        if (batched + chunk.byteLength > WRITE_BATCH_BYTES) await flush()
        if (chunk.byteLength >= WRITE_BATCH_BYTES) {
          await writeAll(handle, chunk)
        } else {
          batch.set(chunk, batched)
          batched += chunk.byteLength
        }
      }
      if (received !== input.contentLength) {
        throw new S3Error('IncompleteBody', undefined, {
          fields: { NumberBytesExpected: input.contentLength, NumberBytesProvided: received },
        })
      }
      const meta: StoredMeta = {
        key: input.key,
        size: received,
        etag: etag ?? `"${md5!.digest('hex')}"`,
        lastModified: wholeSeconds(new Date()).toISOString(),
        metadata: { headers: { ...input.metadata.headers }, user: { ...input.metadata.user } },
        ...(parts ? { parts } : {}),
      }
      const block = Buffer.from(JSON.stringify(meta), 'utf8')
      const trailer = Buffer.alloc(TRAILER_BYTES)
      trailer.writeUInt32BE(TRAILER_MAGIC, 0)
      trailer.writeUInt32BE(FORMAT_VERSION, 4)
      trailer.writeUInt32BE(block.length, 8)
      await flush()
      await writeAll(handle, Buffer.concat([block, trailer]))
      if (durable) await handle.sync()
      closed = true
      await handle.close()
      return { path, etag: meta.etag, lastModified: new Date(meta.lastModified) }
    } catch (err) {
      if (!closed) await handle.close().catch(() => undefined)
      await unlink(path).catch(() => undefined)
      throw err
    }
  }

  // ---- multipart uploads (layout and locking: see the module comment) ----

  const uploadsDir = (bucket: string) => join(bucketDir(bucket), 'uploads')
  const uploadDir = (bucket: string, uploadId: string) => join(uploadsDir(bucket), uploadId)
  const partPath = (bucket: string, uploadId: string, partNumber: number) =>
    join(uploadDir(bucket, uploadId), String(partNumber).padStart(5, '0'))
  const uploadLock = (bucket: string, uploadId: string) => `upload\0${bucket}\0${uploadId}`

  function newUploadId(): string {
    return Date.now().toString(16).padStart(12, '0') + randomBytes(16).toString('hex')
  }

  async function readUploadRecord(bucket: string, uploadId: string): Promise<StoredUpload | undefined> {
    if (!UPLOAD_ID.test(uploadId)) return undefined
    try {
      return JSON.parse(await readFile(join(uploadDir(bucket, uploadId), UPLOAD_RECORD), 'utf8')) as StoredUpload
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined
      throw err
    }
  }

  /** The upload `ref` names; NoSuchBucket, or NoSuchUpload when unknown or started for another key. */
  async function requireUpload(ref: UploadRef): Promise<StoredUpload> {
    validateObjectKey(ref.key)
    await requireBucket(ref.bucket)
    const upload = await readUploadRecord(ref.bucket, ref.uploadId)
    if (!upload || upload.key !== ref.key) throw noSuchUpload(ref.uploadId)
    return upload
  }

  /** The parts stored for an upload, by part number, with their stored metadata. */
  async function readParts(bucket: string, uploadId: string): Promise<(UploadedPart & { path: string })[]> {
    let names: string[]
    try {
      names = (await readdir(uploadDir(bucket, uploadId))).filter((name) => PART_FILE.test(name))
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw noSuchUpload(uploadId)
      throw err
    }
    const parts = await mapLimit(names, LIST_READ_CONCURRENCY, async (name) => {
      const path = join(uploadDir(bucket, uploadId), name)
      let handle: FileHandle
      try {
        handle = await open(path, 'r')
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return undefined // the upload went away while we listed
        throw err
      }
      try {
        const meta = await readMeta(handle)
        const part = { partNumber: Number(name), etag: meta.etag, size: meta.size, lastModified: new Date(meta.lastModified) }
        return { ...part, path }
      } finally {
        await handle.close()
      }
    })
    return parts.filter((p): p is UploadedPart & { path: string } => p !== undefined).sort((a, b) => a.partNumber - b.partNumber)
  }

  /** Removes an upload directory: renamed away first, so it disappears at once even if the removal is slow. */
  async function dropUpload(bucket: string, uploadId: string): Promise<void> {
    const doomed = tempPath()
    await rename(uploadDir(bucket, uploadId), doomed)
    await rm(doomed, { recursive: true, force: true })
  }

  /** The listed parts' bytes, one after another (each file opened as it is reached). */
  async function* concatenate(parts: readonly { path: string; size: number }[]): AsyncGenerator<Uint8Array> {
    for (const part of parts) {
      const handle = await open(part.path, 'r')
      const body = part.size === 0 ? undefined : fileBody(handle, 0, part.size - 1)
      try {
        if (body) yield* body
      } finally {
        if (body) await body.return?.()
        else await handle.close()
      }
    }
  }

  async function createMultipartUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string> {
    validateBucketName(bucket)
    validateObjectKey(key)
    await requireBucket(bucket)
    const uploadId = newUploadId()
    const record: StoredUpload = {
      key,
      uploadId,
      initiated: new Date().toISOString(),
      metadata: { headers: { ...metadata.headers }, user: { ...metadata.user } },
    }
    // Staged complete in tmp/ and renamed into place, so an upload is never seen without its record.
    const staged = tempPath()
    try {
      await mkdir(staged)
      await writeFile(join(staged, UPLOAD_RECORD), JSON.stringify(record), { flag: 'wx' })
      await locks.run(bucketLock(bucket), 'shared', async () => {
        if (!(await bucketExists(bucket))) throw noSuchBucket(bucket)
        // Not recursive: recreating a bucket directory that is being deleted would leave a husk.
        await mkdir(uploadsDir(bucket)).catch((err: unknown) => {
          if (errnoCode(err) !== 'EEXIST') throw err
        })
        await rename(staged, uploadDir(bucket, uploadId))
        await fsyncDir(uploadsDir(bucket))
      })
    } catch (err) {
      await rm(staged, { recursive: true, force: true }).catch(() => undefined)
      throw err
    }
    return uploadId
  }

  async function uploadPart(input: UploadPartInput): Promise<UploadPartOutput> {
    if (!isValidPartNumber(input.partNumber)) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
        fields: { ArgumentName: 'partNumber', ArgumentValue: String(input.partNumber) },
      })
    }
    if (!Number.isSafeInteger(input.contentLength) || input.contentLength < 0) {
      throw new S3Error('InvalidArgument', 'Content-Length must be a non-negative integer', {
        fields: { ArgumentName: 'Content-Length', ArgumentValue: String(input.contentLength) },
      })
    }
    await requireUpload(input)
    const staged = await writeTemp({ ...input, metadata: { headers: {}, user: {} } })
    try {
      await locks.run(bucketLock(input.bucket), 'shared', () =>
        locks.run(uploadLock(input.bucket, input.uploadId), 'shared', async () => {
          // Completed or aborted while the body streamed in: the part has nowhere to go.
          const upload = await readUploadRecord(input.bucket, input.uploadId)
          if (!upload || upload.key !== input.key) throw noSuchUpload(input.uploadId)
          const target = partPath(input.bucket, input.uploadId, input.partNumber)
          await rename(staged.path, target)
          await fsyncDir(dirname(target))
        })
      )
    } catch (err) {
      await unlink(staged.path).catch(() => undefined)
      throw err
    }
    return { etag: staged.etag }
  }

  async function completeMultipartUpload(input: CompleteMultipartUploadInput): Promise<CompleteMultipartUploadOutput> {
    await requireUpload(input)
    const { bucket, key, uploadId, conditions } = input
    return locks.run(bucketLock(bucket), 'shared', () =>
      locks.run(uploadLock(bucket, uploadId), 'exclusive', async () => {
        const upload = await readUploadRecord(bucket, uploadId)
        if (!upload || upload.key !== key) throw noSuchUpload(uploadId)
        const stored = await readParts(bucket, uploadId)
        const byNumber = new Map(stored.map((part) => [part.partNumber, part]))
        const chosen = resolveCompletedParts(uploadId, input.parts, (partNumber, etag) => {
          const part = byNumber.get(partNumber)
          return part && part.etag === `"${etag}"` ? part : undefined
        })
        // Fail a doomed conditional complete before copying any bytes; re-checked before the rename.
        if (conditions) checkWriteConditions(conditions, await currentEtag(bucket, key))
        const md5 = createHash('md5')
        for (const part of chosen) md5.update(Buffer.from(part.etag.slice(1, -1), 'hex'))
        const etag = `"${md5.digest('hex')}-${chosen.length}"`
        const size = chosen.reduce((sum, part) => sum + part.size, 0)
        const staged = await writeTemp(
          { bucket, key, body: concatenate(chosen), contentLength: size, metadata: upload.metadata },
          etag,
          chosen.map((part) => part.size)
        )
        try {
          await locks.run(keyLock(bucket, key), 'exclusive', async () => {
            if (conditions) checkWriteConditions(conditions, await currentEtag(bucket, key))
            const target = objectPath(bucket, key)
            await rename(staged.path, target)
            await fsyncDir(dirname(target))
          })
        } catch (err) {
          await unlink(staged.path).catch(() => undefined)
          throw err
        }
        // The object is in place: the upload is over even if removing its directory fails now.
        await dropUpload(bucket, uploadId).catch(() => undefined)
        return { etag }
      })
    )
  }

  async function abortMultipartUpload(ref: UploadRef): Promise<void> {
    await requireUpload(ref)
    await locks.run(bucketLock(ref.bucket), 'shared', () =>
      locks.run(uploadLock(ref.bucket, ref.uploadId), 'exclusive', async () => {
        const upload = await readUploadRecord(ref.bucket, ref.uploadId)
        if (!upload || upload.key !== ref.key) throw noSuchUpload(ref.uploadId)
        await dropUpload(ref.bucket, ref.uploadId)
      })
    )
  }

  async function listParts(input: ListPartsInput): Promise<ListPartsOutput> {
    await requireUpload(input)
    const parts = (await readParts(input.bucket, input.uploadId)).map(({ path: _path, ...part }) => part)
    return pageParts(parts, input.maxParts, input.partNumberMarker)
  }

  async function listMultipartUploads(input: ListMultipartUploadsInput): Promise<ListMultipartUploadsOutput> {
    await requireBucket(input.bucket)
    let ids: string[]
    try {
      ids = (await readdir(uploadsDir(input.bucket))).filter((name) => UPLOAD_ID.test(name))
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err
      ids = []
    }
    const records = await mapLimit(ids, LIST_READ_CONCURRENCY, (id) => readUploadRecord(input.bucket, id))
    const uploads: MultipartUploadInfo[] = records
      .filter((r): r is StoredUpload => r !== undefined)
      .map((r) => ({ key: r.key, uploadId: r.uploadId, initiated: new Date(r.initiated) }))
      .sort(compareUploads)
    return pageUploads(uploads, input)
  }

  /** Copies the source file's data into a new object file (the store has no cheaper way to share bytes). */
  async function copyObject(input: CopyObjectInput): Promise<CopyObjectOutput> {
    validateBucketName(input.bucket)
    validateObjectKey(input.key)
    const { handle, info } = await requireObject(input.source.bucket, input.source.key)
    const body = fileBody(handle, 0, info.size - 1)
    let staged: { path: string; etag: string; lastModified: Date }
    try {
      checkSourceConditions(input.sourceConditions, info.etag, info.lastModified)
      checkCopySourceSize(info.size)
      await requireBucket(input.bucket)
      const metadata = input.metadata ?? info.metadata
      staged = await writeTemp({ bucket: input.bucket, key: input.key, body, contentLength: info.size, metadata })
    } finally {
      await body.return?.()
    }
    try {
      await locks.run(bucketLock(input.bucket), 'shared', () =>
        locks.run(keyLock(input.bucket, input.key), 'exclusive', async () => {
          const target = objectPath(input.bucket, input.key)
          await rename(staged.path, target)
          await fsyncDir(dirname(target))
        })
      )
    } catch (err) {
      await unlink(staged.path).catch(() => undefined)
      throw err
    }
    return { etag: staged.etag, lastModified: staged.lastModified }
  }

  const backend: Backend = {
    /** Readiness: both directories still there and writable (a full or read-only disk says so here). */
    async check() {
      try {
        await Promise.all([access(bucketsDir, constants.W_OK), access(tmpDir, constants.W_OK)])
      } catch (err) {
        throw new S3Error('ServiceUnavailable', 'The data directory is not writable.', { cause: err })
      }
    },

    async listBuckets(): Promise<BucketInfo[]> {
      const names = (await readdir(bucketsDir)).sort()
      const buckets: BucketInfo[] = []
      for (const name of names) {
        try {
          const text = await readFile(join(bucketsDir, name, 'bucket.json'), 'utf8')
          const record = JSON.parse(text) as { creationDate: string }
          buckets.push({ name, creationDate: new Date(record.creationDate) })
        } catch (err) {
          // A directory without a record is not a bucket (e.g. something an operator left there).
          if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err
        }
      }
      return buckets
    },

    async createBucket(bucket: string): Promise<void> {
      validateBucketName(bucket)
      if (await bucketExists(bucket)) throw alreadyOwned(bucket)
      // Built complete in tmp/ and renamed into place, so a bucket is never seen half-made. The
      // staged directory is non-empty, and rename(2) onto an existing non-empty directory fails.
      const staged = tempPath()
      try {
        await mkdir(join(staged, 'objects'), { recursive: true })
        for (let shard = 0; shard < 256; shard++) {
          await mkdir(join(staged, 'objects', shard.toString(16).padStart(2, '0')))
        }
        const record = { name: bucket, creationDate: new Date().toISOString() }
        await writeFile(join(staged, 'bucket.json'), JSON.stringify(record), { flag: 'wx' })
        try {
          await rename(staged, bucketDir(bucket))
        } catch (err) {
          const code = errnoCode(err)
          if (code === 'ENOTEMPTY' || code === 'EEXIST') {
            throw alreadyOwned(bucket)
          }
          throw err
        }
        await fsyncDir(bucketsDir)
      } catch (err) {
        await rm(staged, { recursive: true, force: true }).catch(() => undefined)
        throw err
      }
    },

    async deleteBucket(bucket: string): Promise<void> {
      await requireBucket(bucket)
      await locks.run(bucketLock(bucket), 'exclusive', async () => {
        if (!(await bucketExists(bucket))) throw noSuchBucket(bucket)
        for (const shard of await readdir(objectsDir(bucket))) {
          if ((await readdir(join(objectsDir(bucket), shard))).length > 0) {
            throw new S3Error('BucketNotEmpty', undefined, { fields: { BucketName: bucket } })
          }
        }
        // Rename away first so the bucket disappears atomically; the removal itself may be slow
        // or interrupted, and tmp/ is emptied at startup.
        const doomed = tempPath()
        await rename(bucketDir(bucket), doomed)
        await fsyncDir(bucketsDir)
        await rm(doomed, { recursive: true, force: true })
      })
    },

    async headBucket(bucket: string): Promise<void> {
      await requireBucket(bucket)
    },

    async getBucketLocation(bucket: string): Promise<string> {
      await requireBucket(bucket)
      return region === 'us-east-1' ? '' : region
    },

    async listObjects(input: ListObjectsInput): Promise<ListObjectsOutput> {
      await requireBucket(input.bucket)
      const root = objectsDir(input.bucket)
      const paths: string[] = []
      for (const shard of await readdir(root)) {
        for (const name of await readdir(join(root, shard))) {
          if (OBJECT_FILE.test(name)) paths.push(join(root, shard, name))
        }
      }
      const readEntry = async (path: string): Promise<ListedObject | undefined> => {
        let handle: FileHandle
        try {
          handle = await open(path, 'r')
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return undefined // deleted while we listed
          throw err
        }
        try {
          const meta = await readMeta(handle)
          return { key: meta.key, size: meta.size, etag: meta.etag, lastModified: new Date(meta.lastModified) }
        } finally {
          await handle.close()
        }
      }
      const entries = await mapLimit(paths, LIST_READ_CONCURRENCY, readEntry)
      const sorted = sortByKey(entries.filter((e): e is ListedObject => e !== undefined))
      return listPage(sorted, input)
    },

    async headObject(
      bucket: string,
      key: string,
      conditions?: Conditions,
      partNumber?: number
    ): Promise<HeadObjectOutput> {
      const { handle, meta, info } = await requireObject(bucket, key)
      await handle.close()
      checkReadConditions(conditions, info.etag, info.lastModified)
      return partNumber === undefined ? info : { ...info, ...partOf(meta, partNumber) }
    },

    async getObject(input: GetObjectInput): Promise<GetObjectOutput> {
      // The descriptor is opened before anything else, so a concurrent overwrite (a rename over
      // this path) cannot change the bytes we serve: the old inode lives until we close it.
      const { handle, meta, info } = await requireObject(input.bucket, input.key)
      try {
        checkReadConditions(input.conditions, info.etag, info.lastModified)
        if (input.partNumber !== undefined) {
          const part = partOf(meta, input.partNumber)
          return { ...info, ...part, body: fileBody(handle, part.range.start, part.range.end) }
        }
        if (input.range) {
          const range = resolveRange(input.range, info.size)
          return { ...info, range, body: fileBody(handle, range.start, range.end) }
        }
        return { ...info, body: fileBody(handle, 0, info.size - 1) }
      } catch (err) {
        await handle.close().catch(() => undefined)
        throw err
      }
    },

    async putObject(input: PutObjectInput): Promise<PutObjectOutput> {
      validateBucketName(input.bucket)
      validateObjectKey(input.key)
      if (!Number.isSafeInteger(input.contentLength) || input.contentLength < 0) {
        throw new S3Error('InvalidArgument', 'Content-Length must be a non-negative integer', {
          fields: { ArgumentName: 'Content-Length', ArgumentValue: String(input.contentLength) },
        })
      }
      await requireBucket(input.bucket)
      // Fail a doomed conditional write before reading the body; re-checked under the lock below.
      if (input.conditions) checkWriteConditions(input.conditions, await currentEtag(input.bucket, input.key))

      const staged = await writeTemp(input)
      try {
        await locks.run(bucketLock(input.bucket), 'shared', () =>
          locks.run(keyLock(input.bucket, input.key), 'exclusive', async () => {
            if (input.conditions) {
              checkWriteConditions(input.conditions, await currentEtag(input.bucket, input.key))
            }
            const target = objectPath(input.bucket, input.key)
            try {
              await rename(staged.path, target)
            } catch (err) {
              // The shard directory only goes away with its bucket.
              if (errnoCode(err) === 'ENOENT' && !(await bucketExists(input.bucket))) {
                throw noSuchBucket(input.bucket)
              }
              throw err
            }
            await fsyncDir(dirname(target))
          })
        )
      } catch (err) {
        await unlink(staged.path).catch(() => undefined)
        throw err
      }
      return { etag: staged.etag }
    },

    async deleteObject(bucket: string, key: string): Promise<void> {
      validateBucketName(bucket)
      validateObjectKey(key)
      await locks.run(bucketLock(bucket), 'shared', () =>
        locks.run(keyLock(bucket, key), 'exclusive', async () => {
          try {
            await unlink(objectPath(bucket, key))
          } catch (err) {
            if (errnoCode(err) !== 'ENOENT') throw err
            // Deleting a missing key succeeds, as in S3, but only in a bucket that exists.
            if (!(await bucketExists(bucket))) throw noSuchBucket(bucket)
          }
        })
      )
    },

    async deleteObjects(bucket: string, keys: string[]): Promise<DeleteObjectsOutput> {
      await requireBucket(bucket)
      type Result = { key: string; error?: DeleteObjectsOutput['errors'][number] }
      const results = await mapLimit(keys, DELETE_CONCURRENCY, async (key): Promise<Result> => {
        try {
          await backend.deleteObject(bucket, key)
          return { key }
        } catch (err) {
          if (isS3Error(err)) return { key, error: { key, code: err.code, message: err.message } }
          return { key, error: { key, code: 'InternalError', message: new S3Error('InternalError').message } }
        }
      })
      const output: DeleteObjectsOutput = { deleted: [], errors: [] }
      for (const result of results) {
        if (result.error) output.errors.push(result.error)
        else output.deleted.push(result.key)
      }
      return output
    },

    createMultipartUpload,
    uploadPart,
    completeMultipartUpload,
    abortMultipartUpload,
    listParts,
    listMultipartUploads,
    copyObject,
  }
  return backend
}
