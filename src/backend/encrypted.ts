/**
 * @module backend/encrypted
 * The encrypting decorator: a Backend that stores every object of an encrypted bucket in the
 * format of crypto/ (docs/format.md) on an inner Backend, and presents plaintext sizes, ranges
 * and ETags to clients. Buckets listed as plaintext pass straight through.
 *
 * ETags: a client sees `"<inner etag>-1"` for a single-PUT object (inner ETags that already carry
 * a `-N` suffix are shown as they are). The suffix tells MD5-checking clients (rclone, s3cmd,
 * aws-cli v1) that the value is not the MD5 of the content, which it is not: it is the MD5 of the
 * ciphertext. Conditions naming ETags are evaluated here against the presented values.
 */
import { IntegrityError, LengthMismatchError, MissingEnvelopeError, UnknownKeyError } from '../crypto/errors.js'
import { isReservedMetaName, openEnvelope, createEnvelope, stripReserved } from '../crypto/envelope.js'
import { plaintextSize, singlePartStoredRange, storedSize } from '../crypto/format.js'
import type { Keyring } from '../crypto/keyring.js'
import { decryptObject, decryptSinglePartRange, encryptObject } from '../crypto/stream.js'
import type { ByteSource, Platform } from '../platform/types.js'
import { checkReadConditions, checkWriteConditions } from '../s3/conditions.js'
import { S3Error, isS3Error } from '../s3/errors.js'
import { invalidRange, resolveRange } from '../s3/range.js'
import type { Backend, ByteRange, Conditions, GetObjectInput, GetObjectOutput, ObjectInfo, PutObjectInput } from './types.js'

export interface EncryptedBackendOptions {
  platform: Platform
  keyring: Keyring
  /** Buckets whose objects are stored as sent (no encryption), e.g. for benchmarks or public data. */
  plaintextBuckets?: readonly string[]
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

export function createEncryptedBackend(inner: Backend, options: EncryptedBackendOptions): Backend {
  const { platform, keyring } = options
  const plaintext = new Set(options.plaintextBuckets ?? [])
  const encrypted = (bucket: string) => !plaintext.has(bucket)

  function clientInfo(info: ObjectInfo, size: number): ObjectInfo {
    return {
      key: info.key,
      size,
      etag: presentEtag(info.etag),
      lastModified: info.lastModified,
      metadata: { headers: info.metadata.headers, user: stripReserved(info.metadata.user) },
    }
  }

  function plaintextSizeOf(info: ObjectInfo): number {
    const size = plaintextSize(info.size)
    if (size === undefined) throw cryptoError(new IntegrityError('size', 'stored size is not a valid encrypted size'))
    return size
  }

  async function getEncrypted(input: GetObjectInput): Promise<GetObjectOutput> {
    const binding = { bucket: input.bucket, key: input.key }
    const spec = input.range
    let storedRange: { start: number; end?: number } | undefined
    let wanted: ByteRange | undefined
    if (spec && 'suffix' in spec) {
      // A suffix needs the size first: it decides which segments cover the tail.
      const info = await inner.headObject(input.bucket, input.key)
      checkReadConditions(input.conditions, presentEtag(info.etag), info.lastModified)
      wanted = resolveRange(spec, plaintextSizeOf(info))
      const stored = singlePartStoredRange(wanted, plaintextSizeOf(info))
      storedRange = { start: stored.storedStart, end: stored.storedEnd }
    } else if (spec) {
      const stored = singlePartStoredRange({ start: spec.start, end: spec.end ?? spec.start })
      storedRange = spec.end === undefined ? { start: stored.storedStart } : { start: stored.storedStart, end: stored.storedEnd }
    }
    let result: GetObjectOutput
    try {
      result = await inner.getObject({ bucket: input.bucket, key: input.key, range: storedRange })
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
      const envelope = await openEnvelope(platform, keyring, result.metadata.user, binding)
      if (envelope.multipart) throw new S3Error('NotImplemented', 'Reading multipart-encrypted objects is not supported yet.')
      const info = clientInfo(result, size)
      if (spec === undefined) {
        if (result.range) throw new S3Error('InternalError', 'The upstream answered a whole-object read with a range.')
        return { ...info, body: mapErrors(decryptObject(platform, envelope, size, result.size, result.body)) }
      }
      wanted ??= resolveRange(spec, size)
      return { ...info, range: wanted, body: mapErrors(decryptSinglePartRange(platform, envelope, size, wanted, result.body)) }
    } catch (err) {
      await release(result.body)
      throw cryptoError(err)
    }
  }

  async function putEncrypted(input: PutObjectInput) {
    const reserved = Object.keys(input.metadata.user).find(isReservedMetaName)
    if (reserved !== undefined) {
      throw new S3Error('InvalidArgument', `Metadata names starting with this prefix are reserved by the gateway: ${reserved}`)
    }
    let conditions = input.conditions
    if (conditions?.ifMatch !== undefined) {
      // If-Match names a presented ETag: check it here, then make the inner write conditional on the stored one.
      const current = await headOrUndefined(input.bucket, input.key)
      checkWriteConditions({ ifMatch: conditions.ifMatch }, current && { etag: presentEtag(current.etag) })
      conditions = { ...conditions, ifMatch: current?.etag }
    }
    const envelope = await createEnvelope(platform, keyring, { bucket: input.bucket, key: input.key })
    const result = await inner.putObject({
      bucket: input.bucket,
      key: input.key,
      body: mapErrors(encryptObject(platform, envelope, input.contentLength, input.body)),
      contentLength: storedSize(input.contentLength),
      metadata: { headers: input.metadata.headers, user: { ...input.metadata.user, ...envelope.metadata } },
      conditions,
    })
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

  return {
    listBuckets: () => inner.listBuckets(),
    createBucket: (bucket) => inner.createBucket(bucket),
    deleteBucket: (bucket) => inner.deleteBucket(bucket),
    headBucket: (bucket) => inner.headBucket(bucket),
    getBucketLocation: (bucket) => inner.getBucketLocation(bucket),
    deleteObject: (bucket, key) => inner.deleteObject(bucket, key),
    deleteObjects: (bucket, keys) => inner.deleteObjects(bucket, keys),

    async listObjects(input) {
      const page = await inner.listObjects(input)
      if (!encrypted(input.bucket)) return page
      return {
        ...page,
        objects: page.objects.map((o) => ({ ...o, size: listedSize(o.size), etag: presentEtag(o.etag) })),
      }
    },

    async headObject(bucket: string, key: string, conditions?: Conditions) {
      if (!encrypted(bucket)) return inner.headObject(bucket, key, conditions)
      const info = await inner.headObject(bucket, key)
      const shown = clientInfo(info, plaintextSizeOf(info))
      checkReadConditions(conditions, shown.etag, shown.lastModified)
      return shown
    },

    getObject(input) {
      return encrypted(input.bucket) ? getEncrypted(input) : inner.getObject(input)
    },

    putObject(input) {
      return encrypted(input.bucket) ? putEncrypted(input) : inner.putObject(input)
    },
  }
}
