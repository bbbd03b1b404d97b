/**
 * @module backend/encrypted
 * The encrypting decorator: a Backend that stores every object of an encrypted bucket in the
 * format of crypto/ (docs/format.md) on an inner Backend, and presents plaintext sizes, ranges
 * and ETags to clients. Buckets listed as plaintext pass straight through.
 *
 * ETags: a client sees `"<inner etag>-1"` for a single-PUT object (inner ETags that already carry
 * a `-N` suffix, as multipart objects' do, are shown as they are). The suffix tells MD5-checking
 * clients (rclone, s3cmd, aws-cli v1) that the value is not the MD5 of the content, which it is not:
 * it is the MD5 of the ciphertext. Conditions naming ETags are evaluated here against the presented
 * values. Part ETags (UploadPart, ListParts) are presented the same way: s3cmd checks a part's ETag
 * against the MD5 of what it sent unless it carries a `-`. Complete also takes a part's inner ETag
 * (what UploadPart answered before this rule, for uploads begun by an older version).
 *
 * Multipart uploads are stateless: everything an instance needs to serve any step lives upstream
 * (backend/encrypted-multipart.ts names the internal objects; docs/format.md section 12 has the
 * scheme). Create makes the upstream upload with the envelope in its metadata and a record object
 * with the same envelope that UploadPart reads back (ListParts and ListMultipartUploads carry no
 * metadata). A part of 5 MiB or more is encrypted into upstream part n; a smaller one can only be
 * the last, so it is kept aside as an internal object. Complete checks the client's list as S3 would
 * before touching the upstream, then uploads one final upstream part 10000 = [kept-aside last part] ‖
 * trailer and completes upstream with the parts listed, then deletes the internal objects.
 *
 * CopyObject between encrypted buckets is a server-side byte copy with the data key re-wrapped for the
 * new name (docs/format.md 12.6); no plaintext passes through.
 *
 * Keys under `.s3veil/` are the gateway's in encrypted buckets: refused to clients, hidden from
 * listings. A listing page that had internal keys in it is topped up from further inner pages, so a
 * page is never empty while more visible keys follow; a page may still hold fewer than max-keys.
 */
import { toBase64Url } from '../crypto/bytes.js'
import { IntegrityError, LengthMismatchError, MissingEnvelopeError, UnknownKeyError } from '../crypto/errors.js'
import {
  META_NAMES,
  createEnvelope,
  isReservedMetaName,
  openEnvelope,
  rewrapEnvelope,
  stripReserved,
  type OpenedEnvelope,
} from '../crypto/envelope.js'
import {
  maxTrailerLength,
  partStoredLength,
  placeParts,
  plaintextSize,
  singlePartStoredRange,
  storedRangeFor,
  storedSize,
  type PartSpec,
} from '../crypto/format.js'
import type { Keyring } from '../crypto/keyring.js'
import {
  decodeTrailer,
  decryptObject,
  decryptRange,
  decryptSinglePartRange,
  encodeTrailer,
  encryptObject,
  encryptPart,
} from '../crypto/stream.js'
import type { ByteSource, Platform } from '../platform/types.js'
import { checkReadConditions, checkWriteConditions, normalizeEtag } from '../s3/conditions.js'
import { S3Error, isS3Error } from '../s3/errors.js'
import { invalidRange, resolveRange } from '../s3/range.js'
import {
  AFTER_INTERNAL_KEYS,
  INTERNAL_PREFIX,
  ManifestCache,
  TRAILER_PART_NUMBER,
  UPLOAD_KEY_META,
  isInternalKey,
  isPlausibleUploadId,
  keptPartKey,
  keptPartNumber,
  keptPartsPrefix,
  laterKey,
  mergeParts,
  partPlainLength,
  uploadPrefix,
  uploadRecordKey,
  type LocatedPart,
} from './encrypted-multipart.js'
import { checkCopySourceSize, checkSourceConditions } from './copy.js'
import {
  MAX_LIST_PAGE,
  MIN_PART_SIZE,
  isValidPartNumber,
  noSuchUpload,
  pageParts,
  partRange,
  resolveCompletedParts,
} from './multipart.js'
import type {
  Backend,
  BackendObserver,
  ByteRange,
  CompleteMultipartUploadInput,
  Conditions,
  CopyObjectInput,
  CopyObjectOutput,
  GetObjectInput,
  GetObjectOutput,
  ListObjectsInput,
  ListObjectsOutput,
  ObjectInfo,
  ObjectMetadata,
  PutObjectInput,
  UploadedPart,
  UploadRef,
} from './types.js'

export interface EncryptedBackendOptions {
  platform: Platform
  keyring: Keyring
  /** Buckets whose objects are stored as sent (no encryption), e.g. for benchmarks or public data. */
  plaintextBuckets?: readonly string[]
  /** Manifests of multipart objects kept for ranged reads (see ManifestCache); default 1024 entries. */
  manifestCacheEntries?: number
}

/** Shows a stored ETag to clients (see the module comment). */
export function presentEtag(innerEtag: string): string {
  const bare = innerEtag.replace(/^"(.*)"$/, '$1')
  return /-\d+$/.test(bare) ? `"${bare}"` : `"${bare}-1"`
}

/** Plaintext size for a listing entry; a size no encrypted object can have shows as 0 (a GET will fail). */
function listedSize(stored: number): number {
  return plaintextSize(stored) ?? 0
}

/** Maps crypto failures to the S3 error clients get; the detail goes to the audit log, not the client. */
function cryptoError(err: unknown): unknown {
  if (err instanceof IntegrityError) return new S3Error('InternalError', 'The stored object failed its integrity check.', { cause: err })
  if (err instanceof MissingEnvelopeError) {
    return new S3Error('InternalError', 'The stored object was not written by this gateway.', { cause: err })
  }
  if (err instanceof UnknownKeyError) {
    return new S3Error('InternalError', 'The stored object is encrypted under a master key this gateway does not hold.', { cause: err })
  }
  if (err instanceof LengthMismatchError) return new S3Error('IncompleteBody', undefined, { cause: err })
  return err
}

async function* mapErrors(source: ByteSource): AsyncGenerator<Uint8Array> {
  try {
    yield* source
  } catch (err) {
    throw cryptoError(err)
  }
}

async function release(source: ByteSource): Promise<void> {
  await (source as AsyncIterable<Uint8Array> & AsyncIterator<Uint8Array>).return?.(undefined)
}

async function* bytesOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) if (chunk.byteLength > 0) yield chunk
}

async function* concat(first: ByteSource, last: Uint8Array): AsyncGenerator<Uint8Array> {
  yield* first
  yield last
}

/** Reads a whole (small) body of known length. */
async function collect(source: ByteSource, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let filled = 0
  for await (const chunk of source) {
    if (filled + chunk.byteLength > length) throw new IntegrityError('trailing-data', 'more bytes than requested')
    out.set(chunk, filled)
    filled += chunk.byteLength
  }
  if (filled !== length) throw new IntegrityError('truncated', 'fewer bytes than requested')
  return out
}

/** The stored object changed between two reads of one GET (a concurrent overwrite): start again. */
class ObjectChanged extends Error {}

/** The error clients get for a key under the reserved prefix. */
function reservedKey(key: string): S3Error {
  return new S3Error('InvalidArgument', `Object keys starting with "${INTERNAL_PREFIX}" are reserved by this gateway.`, {
    fields: { ArgumentName: 'key', ArgumentValue: key },
  })
}

function rejectReservedMetadata(metadata: ObjectMetadata): void {
  const reserved = Object.keys(metadata.user).find(isReservedMetaName)
  if (reserved !== undefined) {
    throw new S3Error('InvalidArgument', `Metadata names starting with this prefix are reserved by the gateway: ${reserved}`)
  }
}

const NO_METADATA: ObjectMetadata = { headers: {}, user: {} }
const GET_ATTEMPTS = 3

/** S3's user-metadata budget: UTF-8 bytes of every name and value. */
const USER_METADATA_LIMIT = 2048

function metadataBytes(user: Record<string, string>): number {
  const encoder = new TextEncoder()
  return Object.entries(user).reduce((sum, [name, value]) => sum + encoder.encode(name).byteLength + encoder.encode(value).byteLength, 0)
}

/**
 * The client's metadata plus the envelope, within S3's 2 KB: the envelope's share comes out of the
 * client's budget, so the upstream never refuses what the gateway accepted.
 */
function withEnvelope(user: Record<string, string>, envelope: Record<string, string>): Record<string, string> {
  const allowed = USER_METADATA_LIMIT - metadataBytes(envelope)
  const size = metadataBytes(user)
  if (size > allowed) throw new S3Error('MetadataTooLarge', undefined, { fields: { MaxSizeAllowed: allowed, Size: size } })
  return { ...user, ...envelope }
}

export function createEncryptedBackend(inner: Backend, options: EncryptedBackendOptions): Backend {
  return encryptedBackend(inner, options, new ManifestCache(options.manifestCacheEntries))
}

/**
 * The decorator over `inner`. Per request (`observe`), a view is built around the inner backend's
 * view, sharing the manifest cache; the observer learns which master key each body went through.
 */
function encryptedBackend(inner: Backend, options: EncryptedBackendOptions, manifests: ManifestCache, observer?: BackendObserver): Backend {
  const { platform, keyring } = options
  const plaintext = new Set(options.plaintextBuckets ?? [])
  const encrypted = (bucket: string) => !plaintext.has(bucket)

  /** Refuses client access to the gateway's own keys (encrypted buckets only: nothing internal lives elsewhere). */
  function clientKey(bucket: string, key: string): void {
    if (encrypted(bucket) && isInternalKey(key)) throw reservedKey(key)
  }

  function clientInfo(info: ObjectInfo, size: number): ObjectInfo {
    return {
      key: info.key,
      size,
      etag: presentEtag(info.etag),
      lastModified: info.lastModified,
      metadata: { headers: info.metadata.headers, user: stripReserved(info.metadata.user) },
    }
  }

  function plaintextSizeOf(info: { size: number }): number {
    const size = plaintextSize(info.size)
    if (size === undefined) throw cryptoError(new IntegrityError('size', 'stored size is not a valid encrypted size'))
    return size
  }

  /** Inner GET that fails with ObjectChanged when the object is no longer the one `etag` names. */
  async function getSame(bucket: string, key: string, etag: string, range: GetObjectInput['range']): Promise<GetObjectOutput> {
    try {
      return await inner.getObject({ bucket, key, range, conditions: { ifMatch: etag } })
    } catch (err) {
      if (isS3Error(err) && (err.code === 'PreconditionFailed' || err.code === 'NoSuchKey')) throw new ObjectChanged()
      throw err
    }
  }

  /**
   * The part list of a multipart object: from the cache, else from one suffix read that covers any
   * trailer (min(stored, maxTrailerLength(P)) bytes), verified by decodeTrailer.
   */
  async function manifestOf(bucket: string, key: string, stored: { size: number; etag: string }, envelope: OpenedEnvelope): Promise<PartSpec[]> {
    const id = ManifestCache.key(bucket, key, stored.etag, envelope.objectId)
    const cached = manifests.get(id)
    if (cached) return cached
    const length = Math.min(stored.size, maxTrailerLength(plaintextSizeOf(stored)))
    const tail = await getSame(bucket, key, stored.etag, { suffix: length })
    let bytes: Uint8Array
    try {
      if (tail.size !== stored.size) throw new ObjectChanged()
      bytes = await collect(tail.body, length)
    } finally {
      await release(tail.body)
    }
    const manifest = await decodeTrailer(platform, envelope, bytes, stored.size)
    manifests.set(id, manifest.parts)
    return manifest.parts
  }

  /** Runs a read that spans several inner requests again when the object changed in between. */
  async function stable<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read()
      } catch (err) {
        if (!(err instanceof ObjectChanged)) throw err
        if (attempt === GET_ATTEMPTS) {
          throw new S3Error('InternalError', 'The object kept changing while it was being read. Please try again.')
        }
      }
    }
  }

  /** Plaintext sizes of a multipart object's parts, for partRange (undefined: not uploaded in parts). */
  function partSizes(parts: PartSpec[] | undefined): number[] | undefined {
    return parts?.map((part) => part.plainLength)
  }

  async function getEncrypted(input: GetObjectInput): Promise<GetObjectOutput> {
    clientKey(input.bucket, input.key)
    const { range, partNumber } = input
    if (partNumber !== undefined) {
      return stable(() => getKnown(input, (size, parts) => partRange(partNumber, size, partSizes(parts))))
    }
    if (range && 'suffix' in range) {
      return stable(() => getKnown(input, (size) => ({ range: resolveRange(range, size) })))
    }
    return stable(() => getDirect(input))
  }

  /** HEAD with a partNumber: where the part lies, from the manifest (cached) of a multipart object. */
  async function headPart(bucket: string, key: string, stored: ObjectInfo, size: number, partNumber: number) {
    let parts: PartSpec[] | undefined
    try {
      const envelope = await openEnvelope(platform, keyring, stored.metadata.user, { bucket, key })
      if (envelope.multipart) parts = await manifestOf(bucket, key, stored, envelope)
    } catch (err) {
      throw cryptoError(err)
    }
    return partRange(partNumber, size, partSizes(parts))
  }

  /**
   * A whole object, or a range with a start: one inner GET on the 64 KiB grid, which is right for
   * single-PUT objects and for multipart objects whose parts before the range are multiples of
   * 64 KiB (every mainstream client's part size). Otherwise the manifest says where the segments
   * are, and they are fetched again from the right place.
   */
  async function getDirect(input: GetObjectInput): Promise<GetObjectOutput> {
    const { bucket, key } = input
    const spec = input.range as { start: number; end?: number } | undefined
    let storedRange: { start: number; end?: number } | undefined
    if (spec) {
      const grid = singlePartStoredRange({ start: spec.start, end: spec.end ?? spec.start })
      storedRange = spec.end === undefined ? { start: grid.storedStart } : { start: grid.storedStart, end: grid.storedEnd }
    }
    let result: GetObjectOutput
    try {
      result = await inner.getObject({ bucket, key, range: storedRange })
    } catch (err) {
      if (isS3Error(err) && err.code === 'InvalidRange') {
        const storedTotal = Number(err.fields.ActualObjectSize)
        throw invalidRange(Number.isFinite(storedTotal) ? listedSize(storedTotal) : 0)
      }
      throw err
    }
    try {
      const size = plaintextSizeOf(result)
      const etag = presentEtag(result.etag)
      checkReadConditions(input.conditions, etag, result.lastModified)
      const envelope = await openEnvelope(platform, keyring, result.metadata.user, { bucket, key })
      observer?.decrypted(envelope.kekId)
      const info = clientInfo(result, size)
      if (spec === undefined) {
        if (result.range) throw new S3Error('InternalError', 'The upstream answered a whole-object read with a range.')
        const parts = envelope.multipart ? await manifestOf(bucket, key, result, envelope) : undefined
        return { ...info, body: mapErrors(decryptObject(platform, envelope, size, result.size, result.body, parts)) }
      }
      const wanted = resolveRange(spec, size)
      if (!envelope.multipart) {
        return { ...info, range: wanted, body: mapErrors(decryptSinglePartRange(platform, envelope, size, wanted, result.body)) }
      }
      const parts = await manifestOf(bucket, key, result, envelope)
      const needed = storedRangeFor(placeParts(parts), wanted)
      let body = result.body
      const fetched = result.range
      if (!fetched || fetched.start !== needed.storedStart || fetched.end < needed.storedEnd) {
        // Misaligned parts before the range: the grid guess missed.
        await release(result.body)
        body = (await getSame(bucket, key, result.etag, { start: needed.storedStart, end: needed.storedEnd })).body
      }
      return { ...info, range: wanted, body: mapErrors(decryptRange(platform, envelope, parts, wanted, body)) }
    } catch (err) {
      await release(result.body)
      throw cryptoError(err)
    }
  }

  /**
   * A read whose bytes depend on the object's size or parts (a suffix range, a partNumber): a HEAD for
   * the size and ETag, the manifest (cached) of a multipart object, then one GET of exactly the
   * covering segments (none for an empty part).
   */
  async function getKnown(
    input: GetObjectInput,
    choose: (size: number, parts: PartSpec[] | undefined) => { range: ByteRange; partsCount?: number }
  ): Promise<GetObjectOutput> {
    const { bucket, key } = input
    const head = await inner.headObject(bucket, key)
    checkReadConditions(input.conditions, presentEtag(head.etag), head.lastModified)
    const size = plaintextSizeOf(head)
    let envelope: OpenedEnvelope
    let parts: PartSpec[] | undefined
    let chosen: { range: ByteRange; partsCount?: number }
    let stored: ByteRange | undefined
    try {
      envelope = await openEnvelope(platform, keyring, head.metadata.user, { bucket, key })
      if (envelope.multipart) parts = await manifestOf(bucket, key, head, envelope)
      chosen = choose(size, parts)
      if (chosen.range.end >= chosen.range.start) {
        const covering = parts
          ? storedRangeFor(placeParts(parts), chosen.range)
          : singlePartStoredRange(chosen.range, size)
        stored = { start: covering.storedStart, end: covering.storedEnd }
      }
    } catch (err) {
      throw cryptoError(err)
    }
    const info = { ...clientInfo(head, size), ...chosen }
    observer?.decrypted(envelope.kekId)
    if (!stored) return { ...info, body: bytesOf() }
    const result = await getSame(bucket, key, head.etag, stored)
    const body = parts
      ? decryptRange(platform, envelope, parts, chosen.range, result.body)
      : decryptSinglePartRange(platform, envelope, size, chosen.range, result.body)
    return { ...info, body: mapErrors(body) }
  }

  /** Translates a client's If-Match (a presented ETag) into the stored ETag for the inner write. */
  async function innerWriteConditions(
    bucket: string,
    key: string,
    conditions: Pick<Conditions, 'ifMatch' | 'ifNoneMatch'> | undefined
  ): Promise<Pick<Conditions, 'ifMatch' | 'ifNoneMatch'> | undefined> {
    if (conditions?.ifMatch === undefined) return conditions
    const current = await headOrUndefined(bucket, key)
    checkWriteConditions({ ifMatch: conditions.ifMatch }, current && { etag: presentEtag(current.etag) })
    return { ...conditions, ifMatch: current?.etag }
  }

  async function putEncrypted(input: PutObjectInput) {
    clientKey(input.bucket, input.key)
    rejectReservedMetadata(input.metadata)
    const conditions = await innerWriteConditions(input.bucket, input.key, input.conditions)
    const envelope = await createEnvelope(platform, keyring, { bucket: input.bucket, key: input.key })
    const result = await inner.putObject({
      bucket: input.bucket,
      key: input.key,
      body: mapErrors(encryptObject(platform, envelope, input.contentLength, input.body)),
      contentLength: storedSize(input.contentLength),
      metadata: { headers: input.metadata.headers, user: withEnvelope(input.metadata.user, envelope.metadata) },
      conditions,
    })
    // Only what was stored counts as encrypted: an upload cut short or refused is not.
    observer?.encrypted(envelope.kekId)
    return { etag: presentEtag(result.etag) }
  }

  async function headOrUndefined(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      return await inner.headObject(bucket, key)
    } catch (err) {
      if (isS3Error(err) && err.code === 'NoSuchKey') return undefined
      throw err
    }
  }

  /**
   * A listing without internal keys. When some were dropped from a truncated page, further inner
   * pages (resuming after the internal key range, which is contiguous) top it up to maxKeys; the
   * page then ends on a visible item, so both v1 markers and v2 tokens resume correctly.
   */
  async function listVisible(input: ListObjectsInput): Promise<ListObjectsOutput> {
    if (input.prefix !== undefined && isInternalKey(input.prefix)) return { objects: [], commonPrefixes: [], isTruncated: false }
    let page = await inner.listObjects(input)
    const out: ListObjectsOutput = { objects: [], commonPrefixes: [], isTruncated: false }
    for (;;) {
      const objects = page.objects.filter((o) => !isInternalKey(o.key))
      const commonPrefixes = page.commonPrefixes.filter((p) => !isInternalKey(p))
      out.objects.push(...objects.map((o) => ({ ...o, size: listedSize(o.size), etag: presentEtag(o.etag) })))
      out.commonPrefixes.push(...commonPrefixes)
      out.isTruncated = page.isTruncated
      out.nextMarker = page.nextMarker
      out.nextContinuationToken = page.nextContinuationToken
      const count = out.objects.length + out.commonPrefixes.length
      const hidden = objects.length < page.objects.length || commonPrefixes.length < page.commonPrefixes.length
      if (!hidden || !page.isTruncated || count >= input.maxKeys) break
      const lastKey = page.objects.at(-1)?.key
      const lastPrefix = page.commonPrefixes.at(-1)
      let resume = lastKey === undefined ? lastPrefix : lastPrefix === undefined ? lastKey : laterKey(lastKey, lastPrefix)
      if (resume === undefined) break
      if (isInternalKey(resume)) resume = AFTER_INTERNAL_KEYS
      const window = input.marker !== undefined ? { marker: resume } : { startAfter: resume }
      page = await inner.listObjects({
        bucket: input.bucket,
        prefix: input.prefix,
        delimiter: input.delimiter,
        maxKeys: input.maxKeys - count,
        ...window,
      })
    }
    if (!out.isTruncated) {
      delete out.nextMarker
      delete out.nextContinuationToken
    }
    return out
  }

  // ---- multipart uploads (see the module comment) ----

  async function keyDigest(key: string): Promise<string> {
    return toBase64Url(await platform.sha256(key))
  }

  /**
   * The envelope of an upload, from its record: NoSuchUpload when there is none, or when it was
   * started for another key (S3 ties an upload id to its key).
   */
  async function openUpload(ref: UploadRef): Promise<OpenedEnvelope> {
    clientKey(ref.bucket, ref.key)
    if (!isPlausibleUploadId(ref.uploadId)) throw noSuchUpload(ref.uploadId)
    const record = await headOrUndefined(ref.bucket, uploadRecordKey(ref.uploadId))
    if (!record || record.metadata.user[UPLOAD_KEY_META] !== (await keyDigest(ref.key))) throw noSuchUpload(ref.uploadId)
    try {
      return await openEnvelope(platform, keyring, record.metadata.user, { bucket: ref.bucket, key: ref.key })
    } catch (err) {
      throw cryptoError(err)
    }
  }

  async function createUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string> {
    clientKey(bucket, key)
    rejectReservedMetadata(metadata)
    const envelope = await createEnvelope(platform, keyring, { bucket, key }, { multipart: true })
    const uploadId = await inner.createMultipartUpload(bucket, key, {
      headers: metadata.headers,
      user: withEnvelope(metadata.user, envelope.metadata),
    })
    try {
      await inner.putObject({
        bucket,
        key: uploadRecordKey(uploadId),
        body: bytesOf(),
        contentLength: 0,
        metadata: { headers: {}, user: { ...envelope.metadata, [UPLOAD_KEY_META]: await keyDigest(key) } },
      })
    } catch (err) {
      await inner.abortMultipartUpload({ bucket, key, uploadId }).catch(() => undefined)
      throw err
    }
    return uploadId
  }

  /** Every part uploaded so far, in both places a part can be: upstream, and kept aside. */
  async function uploadedParts(ref: UploadRef): Promise<{ upstream: UploadedPart[]; kept: UploadedPart[] }> {
    const upstream: UploadedPart[] = []
    let marker: number | undefined
    do {
      const page = await inner.listParts({ ...ref, maxParts: MAX_LIST_PAGE, partNumberMarker: marker })
      upstream.push(...page.parts)
      marker = page.isTruncated ? page.nextPartNumberMarker : undefined
    } while (marker !== undefined)
    const kept = (await internalObjects(ref.bucket, keptPartsPrefix(ref.uploadId))).flatMap((o) => {
      const partNumber = keptPartNumber(ref.uploadId, o.key)
      return partNumber === undefined ? [] : [{ partNumber, etag: o.etag, size: o.size, lastModified: o.lastModified }]
    })
    return { upstream: upstream.filter((part) => part.partNumber !== TRAILER_PART_NUMBER), kept }
  }

  async function internalObjects(bucket: string, prefix: string) {
    const found: ListObjectsOutput['objects'] = []
    let token: string | undefined
    do {
      const page = await inner.listObjects({ bucket, prefix, maxKeys: MAX_LIST_PAGE, continuationToken: token })
      found.push(...page.objects)
      token = page.isTruncated ? page.nextContinuationToken : undefined
    } while (token !== undefined)
    return found
  }

  /** Deletes an upload's internal objects, the record last (it is what makes the upload known). */
  async function dropInternal(bucket: string, uploadId: string): Promise<void> {
    const record = uploadRecordKey(uploadId)
    const keys = (await internalObjects(bucket, uploadPrefix(uploadId))).map((o) => o.key).filter((k) => k !== record)
    if (keys.length > 0) await inner.deleteObjects(bucket, keys)
    await inner.deleteObject(bucket, record)
  }

  function plainLengthOf(part: UploadedPart): number {
    const length = partPlainLength(part.size)
    if (length === undefined) {
      throw cryptoError(new IntegrityError('size', `stored part ${part.partNumber} has an impossible length`))
    }
    return length
  }

  /**
   * A Complete of an upload whose record is still there but whose upstream upload is gone: an earlier
   * Complete went through upstream and its answer, or its cleanup, was lost (a cut connection, an
   * instance that died). When the object under the key is that upload's (the same object id), the
   * earlier Complete's answer is given again, as S3 answers a repeated Complete, and the leftovers go.
   */
  async function completedEarlier(ref: UploadRef, envelope: OpenedEnvelope) {
    const current = await headOrUndefined(ref.bucket, ref.key)
    if (current?.metadata.user[META_NAMES.objectId] !== toBase64Url(envelope.objectId)) return undefined
    await dropInternal(ref.bucket, ref.uploadId).catch(() => undefined)
    return { etag: presentEtag(current.etag) }
  }

  async function completeUpload(input: CompleteMultipartUploadInput) {
    const { bucket, key, uploadId } = input
    const envelope = await openUpload(input)
    let found: Awaited<ReturnType<typeof uploadedParts>>
    try {
      found = await uploadedParts(input)
    } catch (err) {
      const gone = isS3Error(err) && err.code === 'NoSuchUpload'
      const earlier = gone ? await completedEarlier(input, envelope) : undefined
      if (earlier) return earlier
      throw err
    }
    const { upstream, kept } = found
    // Both copies of a part number are candidates here: the client's ETag says which one it means.
    const candidates = new Map<string, LocatedPart & { stored: number }>()
    const add = (part: UploadedPart, source: LocatedPart['source']) => {
      const located = { ...part, source, stored: part.size, size: plainLengthOf(part) }
      candidates.set(`${part.partNumber}\0${normalizeEtag(presentEtag(part.etag))}`, located)
      candidates.set(`${part.partNumber}\0${normalizeEtag(part.etag)}`, located)
    }
    upstream.forEach((part) => add(part, 'upstream'))
    kept.forEach((part) => add(part, 'kept'))
    // Sizes are plaintext from here on: the 5 MiB rule is about what the client sent.
    const chosen = resolveCompletedParts(uploadId, input.parts, (partNumber, etag) => candidates.get(`${partNumber}\0${etag}`))
    const conditions = await innerWriteConditions(bucket, key, input.conditions)
    const specs = chosen.map((part) => ({ partNumber: part.partNumber, plainLength: part.size }))
    const storedBody = chosen.reduce((sum, part) => sum + part.stored, 0)
    const trailer = await encodeTrailer(platform, envelope, specs, storedBody)
    const last = chosen[chosen.length - 1]!
    // Kept-aside parts are under 5 MiB, so only the last one can be (EntityTooSmall otherwise).
    const viaUpstream = last.source === 'kept' ? chosen.slice(0, -1) : chosen
    let finalBody: ByteSource = bytesOf(trailer)
    let finalLength = trailer.byteLength
    if (last.source === 'kept') {
      const kept = await inner.getObject({ bucket, key: keptPartKey(uploadId, last.partNumber), conditions: { ifMatch: last.etag } })
      finalBody = concat(kept.body, trailer)
      finalLength += kept.size
    }
    const final = await inner.uploadPart({
      bucket,
      key,
      uploadId,
      partNumber: TRAILER_PART_NUMBER,
      body: finalBody,
      contentLength: finalLength,
    })
    const result = await inner.completeMultipartUpload({
      bucket,
      key,
      uploadId,
      parts: [
        ...viaUpstream.map((part) => ({ partNumber: part.partNumber, etag: part.etag })),
        { partNumber: TRAILER_PART_NUMBER, etag: final.etag },
      ],
      conditions,
    })
    observer?.encrypted(envelope.kekId)
    // The object is complete; leftovers are invisible to clients, so a failed cleanup is not the client's error.
    await dropInternal(bucket, uploadId).catch(() => undefined)
    return { etag: presentEtag(result.etag) }
  }

  /**
   * CopyObject. Between encrypted buckets: a server-side byte copy with the data key re-wrapped for the
   * new bucket and key under the current master key (docs/format.md 2.3), so no plaintext passes
   * through and nothing is re-encrypted; pinned to the source version whose envelope was read. Between
   * an encrypted and a plaintext bucket the bytes must change, so they stream through the gateway.
   */
  async function copyEncrypted(input: CopyObjectInput): Promise<CopyObjectOutput> {
    const { source, bucket, key } = input
    clientKey(source.bucket, source.key)
    clientKey(bucket, key)
    if (input.metadata) rejectReservedMetadata(input.metadata)
    if (encrypted(source.bucket) && encrypted(bucket)) {
      const info = await inner.headObject(source.bucket, source.key)
      checkSourceConditions(input.sourceConditions, presentEtag(info.etag), info.lastModified)
      checkCopySourceSize(plaintextSizeOf(info))
      let envelope: Record<string, string>
      try {
        envelope = await rewrapEnvelope(platform, keyring, info.metadata.user, source, { bucket, key })
      } catch (err) {
        throw cryptoError(err)
      }
      // No plaintext passes: the copy is stored under the data key now wrapped by this master key.
      const metadata = input.metadata ?? { headers: info.metadata.headers, user: stripReserved(info.metadata.user) }
      const result = await inner.copyObject({
        source,
        bucket,
        key,
        metadata: { headers: metadata.headers, user: withEnvelope(metadata.user, envelope) },
        sourceConditions: { ifMatch: info.etag },
      })
      const kekId = envelope[META_NAMES.kekId]
      if (kekId !== undefined) observer?.encrypted(kekId)
      return { etag: presentEtag(result.etag), lastModified: result.lastModified }
    }
    const info = await backend.headObject(source.bucket, source.key)
    checkSourceConditions(input.sourceConditions, info.etag, info.lastModified)
    checkCopySourceSize(info.size)
    const got = await backend.getObject({ bucket: source.bucket, key: source.key, conditions: { ifMatch: info.etag } })
    const put = await backend.putObject({ bucket, key, body: got.body, contentLength: got.size, metadata: input.metadata ?? got.metadata })
    const copied = await backend.headObject(bucket, key)
    return { etag: put.etag, lastModified: copied.lastModified }
  }

  const backend: Backend = {
    check: inner.check && (() => inner.check!()),
    observe: (o) => encryptedBackend(inner.observe?.(o) ?? inner, options, manifests, o),
    listBuckets: () => inner.listBuckets(),
    createBucket: (bucket) => inner.createBucket(bucket),
    deleteBucket: (bucket) => inner.deleteBucket(bucket),
    headBucket: (bucket) => inner.headBucket(bucket),
    getBucketLocation: (bucket) => inner.getBucketLocation(bucket),

    async deleteObject(bucket, key) {
      clientKey(bucket, key)
      return inner.deleteObject(bucket, key)
    },

    async deleteObjects(bucket, keys) {
      if (!encrypted(bucket)) return inner.deleteObjects(bucket, keys)
      const refused = keys.filter(isInternalKey)
      const allowed = keys.filter((key) => !isInternalKey(key))
      const result = allowed.length > 0 ? await inner.deleteObjects(bucket, allowed) : { deleted: [], errors: [] }
      for (const key of refused) result.errors.push({ key, code: 'InvalidArgument', message: reservedKey(key).message })
      return result
    },

    listObjects(input) {
      return encrypted(input.bucket) ? listVisible(input) : inner.listObjects(input)
    },

    async headObject(bucket: string, key: string, conditions?: Conditions, partNumber?: number) {
      if (!encrypted(bucket)) return inner.headObject(bucket, key, conditions, partNumber)
      clientKey(bucket, key)
      return stable(async () => {
        const info = await inner.headObject(bucket, key)
        const shown = clientInfo(info, plaintextSizeOf(info))
        checkReadConditions(conditions, shown.etag, shown.lastModified)
        if (partNumber === undefined) return shown
        return { ...shown, ...(await headPart(bucket, key, info, shown.size, partNumber)) }
      })
    },

    getObject(input) {
      return encrypted(input.bucket) ? getEncrypted(input) : inner.getObject(input)
    },

    putObject(input) {
      return encrypted(input.bucket) ? putEncrypted(input) : inner.putObject(input)
    },

    createMultipartUpload(bucket, key, metadata) {
      return encrypted(bucket) ? createUpload(bucket, key, metadata) : inner.createMultipartUpload(bucket, key, metadata)
    },

    async uploadPart(input) {
      if (!encrypted(input.bucket)) return inner.uploadPart(input)
      const envelope = await openUpload(input)
      const { bucket, uploadId, partNumber, contentLength } = input
      if (!isValidPartNumber(partNumber)) {
        throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
          fields: { ArgumentName: 'partNumber', ArgumentValue: String(partNumber) },
        })
      }
      const small = contentLength < MIN_PART_SIZE
      if (!small && partNumber === TRAILER_PART_NUMBER) {
        throw new S3Error(
          'InvalidArgument',
          'This gateway needs part number 10000 for the encrypted object\'s trailer: part 10000 must be smaller than 5 MiB.',
          { fields: { ArgumentName: 'partNumber', ArgumentValue: String(partNumber) } }
        )
      }
      const body = mapErrors(encryptPart(platform, envelope, partNumber, contentLength, input.body))
      const stored = partStoredLength(contentLength)
      if (small) {
        // Small parts can only be the last one; the upstream would refuse them as non-last parts.
        const out = await inner.putObject({ bucket, key: keptPartKey(uploadId, partNumber), body, contentLength: stored, metadata: NO_METADATA })
        observer?.encrypted(envelope.kekId)
        return { etag: presentEtag(out.etag) }
      }
      const out = await inner.uploadPart({ ...input, body, contentLength: stored })
      observer?.encrypted(envelope.kekId)
      // This upload replaces any earlier small upload of the same part number, as in S3.
      await inner.deleteObject(bucket, keptPartKey(uploadId, partNumber)).catch(() => undefined)
      return { etag: presentEtag(out.etag) }
    },

    completeMultipartUpload(input) {
      return encrypted(input.bucket) ? completeUpload(input) : inner.completeMultipartUpload(input)
    },

    async abortMultipartUpload(ref) {
      if (!encrypted(ref.bucket)) return inner.abortMultipartUpload(ref)
      await openUpload(ref)
      let missing: unknown
      try {
        await inner.abortMultipartUpload(ref)
      } catch (err) {
        // Gone upstream (completed by an instance that died before cleaning up): still clean up here.
        if (!isS3Error(err) || err.code !== 'NoSuchUpload') throw err
        missing = err
      }
      await dropInternal(ref.bucket, ref.uploadId)
      if (missing) throw missing
    },

    async listParts(input) {
      if (!encrypted(input.bucket)) return inner.listParts(input)
      await openUpload(input)
      const { upstream, kept } = await uploadedParts(input)
      const parts = mergeParts(upstream, kept).map(({ source: _source, ...part }) => ({
        ...part,
        etag: presentEtag(part.etag),
        size: plainLengthOf(part),
      }))
      return pageParts(parts, input.maxParts, input.partNumberMarker)
    },

    async listMultipartUploads(input) {
      const page = await inner.listMultipartUploads(input)
      if (!encrypted(input.bucket)) return page
      return { ...page, uploads: page.uploads.filter((u) => !isInternalKey(u.key)), commonPrefixes: page.commonPrefixes.filter((p) => !isInternalKey(p)) }
    },

    copyObject(input) {
      return encrypted(input.source.bucket) || encrypted(input.bucket) ? copyEncrypted(input) : inner.copyObject(input)
    },
  }
  return backend
}
