/**
 * @module backend/types
 * The storage seam. Handlers in s3/ call a `Backend`; implementations are the disk store
 * (backend/filesystem.ts), a real S3 upstream (backend/s3-upstream.ts), and the encrypting
 * decorator (backend/encrypted.ts) that wraps either. These are our own small types, so only
 * s3-upstream.ts imports the AWS SDK.
 *
 * Contract for every implementation:
 * - Failures are `S3Error`s (s3/errors.ts) with the code S3 would use (NoSuchBucket, NoSuchKey, …).
 * - ETags are returned quoted, exactly as they go on the wire.
 * - `putObject` stores nothing unless the whole body arrived: if iterating `body` throws, or yields
 *   a byte count other than `contentLength`, nothing becomes visible and the promise rejects with
 *   the body's own error (so a signature or checksum failure reaches the client unchanged).
 * - `getObject` returns before streaming; the caller consumes `body` once or calls `body.return()`
 *   (breaking out of `for await`) to release the upstream connection.
 * - Multipart uploads follow S3: `uploadPart` has putObject's all-or-nothing body rule (a part is
 *   either wholly stored or not at all) and may replace an earlier part with the same number;
 *   `completeMultipartUpload` checks the part list (InvalidPartOrder, InvalidPart, EntityTooSmall for a
 *   non-last part under 5 MiB) before anything becomes visible, and a failed complete leaves the
 *   upload as it was (retry or abort); an unknown upload, or one started for another key, is NoSuchUpload.
 */
import type { ByteSource } from '../platform/types.js'

/** Standard content headers that S3 stores with an object and returns on GET/HEAD. */
export interface ContentHeaders {
  contentType?: string
  cacheControl?: string
  contentDisposition?: string
  contentEncoding?: string
  contentLanguage?: string
  expires?: string
}

export interface ObjectMetadata {
  headers: ContentHeaders
  /** `x-amz-meta-*` values keyed by the lowercase name without the prefix. */
  user: Record<string, string>
}

export interface BucketInfo {
  name: string
  creationDate: Date
}

/** Preconditions from If-* headers. ETags are as the client sent them (quoted or not, or `*`). */
export interface Conditions {
  ifMatch?: string
  ifNoneMatch?: string
  ifModifiedSince?: Date
  ifUnmodifiedSince?: Date
}

/** A parsed, not yet resolved Range header: `bytes=start-[end]` or `bytes=-suffix`. */
export type RangeSpec = { start: number; end?: number } | { suffix: number }

/** A resolved inclusive byte range within an object of known size. */
export interface ByteRange {
  start: number
  end: number
}

export interface ObjectInfo {
  key: string
  size: number
  /** Quoted. */
  etag: string
  lastModified: Date
  metadata: ObjectMetadata
}

export interface GetObjectInput {
  bucket: string
  key: string
  range?: RangeSpec
  /**
   * S3's `partNumber` (1..10000, never together with `range`): read only that part of the object, by
   * position in the completed object (backend/multipart.ts partRange). InvalidPartNumber past the last.
   */
  partNumber?: number
  conditions?: Conditions
}

/** What HeadObject answers; with a partNumber, the part's place in the object as for GetObject. */
export interface HeadObjectOutput extends ObjectInfo {
  /** Present when a range or part was requested: the bytes a GET would return (empty part: end = start - 1). */
  range?: ByteRange
  /** With a partNumber, for an object uploaded in parts: how many it has (x-amz-mp-parts-count). */
  partsCount?: number
}

export interface GetObjectOutput extends HeadObjectOutput {
  body: ByteSource
}

export interface PutObjectInput {
  bucket: string
  key: string
  body: ByteSource
  contentLength: number
  metadata: ObjectMetadata
  /** Conditional write: `ifNoneMatch: '*'` (create only) and/or `ifMatch: '"etag"'`. */
  conditions?: Pick<Conditions, 'ifMatch' | 'ifNoneMatch'>
}

export interface PutObjectOutput {
  etag: string
}

export interface ListObjectsInput {
  bucket: string
  prefix?: string
  delimiter?: string
  maxKeys: number
  /** ListObjects (v1) marker: resume after this key. */
  marker?: string
  /** ListObjectsV2 start-after: resume after this key (ignored when a continuationToken is given). */
  startAfter?: string
  /** ListObjectsV2 token from a previous output's `nextContinuationToken`; opaque to the caller. */
  continuationToken?: string
}

export interface ListedObject {
  key: string
  size: number
  etag: string
  lastModified: Date
}

export interface ListObjectsOutput {
  objects: ListedObject[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** v1: the last key or common prefix returned, when truncated. */
  nextMarker?: string
  /** v2: opaque token for the next page, when truncated. */
  nextContinuationToken?: string
}

export interface DeleteObjectsOutput {
  deleted: string[]
  errors: { key: string; code: string; message: string }[]
}

/**
 * What a backend reports about one request, for its audit record: the encrypting decorator says
 * which master key a body was encrypted or decrypted under, the S3 upstream each SDK call's status
 * and time. Disk storage reports nothing.
 */
export interface BackendObserver {
  encrypted(keyId: string): void
  decrypted(keyId: string): void
  /**
   * One upstream call: its final HTTP status (undefined: no answer), time waited, and, when it failed
   * (no answer or a 5xx), why: a Node or TLS error code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE)
   * or the upstream's S3 error code.
   */
  upstream(status: number | undefined, ms: number, failure?: string): void
}

export interface Backend {
  /**
   * Readiness: resolves when the storage can serve requests (the upstream answers and takes our
   * credentials; the data directory is writable). Rejects with an S3Error saying what is wrong.
   */
  check?(): Promise<void>
  /** This backend for one request, reporting to `observer`; absent: there is nothing to report. */
  observe?(observer: BackendObserver): Backend

  listBuckets(): Promise<BucketInfo[]>
  createBucket(bucket: string): Promise<void>
  deleteBucket(bucket: string): Promise<void>
  /** Resolves when the bucket exists; NoSuchBucket otherwise. */
  headBucket(bucket: string): Promise<void>
  /** Location constraint ('' for us-east-1, as S3 answers). */
  getBucketLocation(bucket: string): Promise<string>

  listObjects(input: ListObjectsInput): Promise<ListObjectsOutput>
  /** With `partNumber`, the answer also says where that part lies (`range`, `partsCount`), as for getObject. */
  headObject(bucket: string, key: string, conditions?: Conditions, partNumber?: number): Promise<HeadObjectOutput>
  getObject(input: GetObjectInput): Promise<GetObjectOutput>
  putObject(input: PutObjectInput): Promise<PutObjectOutput>
  /** Succeeds when the key does not exist, as S3 does. */
  deleteObject(bucket: string, key: string): Promise<void>
  deleteObjects(bucket: string, keys: string[]): Promise<DeleteObjectsOutput>

  /** Starts a multipart upload; `metadata` becomes the completed object's. Returns the upload id. */
  createMultipartUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string>
  uploadPart(input: UploadPartInput): Promise<UploadPartOutput>
  completeMultipartUpload(input: CompleteMultipartUploadInput): Promise<CompleteMultipartUploadOutput>
  /** NoSuchUpload when the upload does not exist (also when it was already aborted or completed). */
  abortMultipartUpload(input: UploadRef): Promise<void>
  listParts(input: ListPartsInput): Promise<ListPartsOutput>
  listMultipartUploads(input: ListMultipartUploadsInput): Promise<ListMultipartUploadsOutput>
  /**
   * Copies an object's bytes within the store (no re-upload through the caller). The source's
   * conditions fail with PreconditionFailed (never NotModified, as S3 answers x-amz-copy-source-if-*).
   */
  copyObject(input: CopyObjectInput): Promise<CopyObjectOutput>
}

export interface CopyObjectInput {
  source: { bucket: string; key: string }
  bucket: string
  key: string
  /** The copy's metadata (x-amz-metadata-directive REPLACE); absent: the source's (COPY). */
  metadata?: ObjectMetadata
  /** x-amz-copy-source-if-*, evaluated against the source. */
  sourceConditions?: Conditions
}

export interface CopyObjectOutput {
  /** Quoted. */
  etag: string
  lastModified: Date
}

/** Names one multipart upload: S3 ties an upload id to its bucket and key. */
export interface UploadRef {
  bucket: string
  key: string
  uploadId: string
}

export interface UploadPartInput extends UploadRef {
  /** 1..10000. */
  partNumber: number
  body: ByteSource
  contentLength: number
}

export interface UploadPartOutput {
  /** Quoted. */
  etag: string
}

export interface CompletedPart {
  partNumber: number
  /** As the client sent it (quoted or not). */
  etag: string
}

export interface CompleteMultipartUploadInput extends UploadRef {
  /** The client's list, in the client's order (checking the order is the backend's job). */
  parts: CompletedPart[]
  /** Conditional write of the completed object, as for putObject. */
  conditions?: Pick<Conditions, 'ifMatch' | 'ifNoneMatch'>
}

export interface CompleteMultipartUploadOutput {
  /** Quoted; `"<hex>-<part count>"` for a plain S3 store. */
  etag: string
}

export interface ListPartsInput extends UploadRef {
  /** 1..1000. */
  maxParts: number
  /** Resume after this part number (0: from the start). */
  partNumberMarker?: number
}

export interface UploadedPart {
  partNumber: number
  /** Quoted. */
  etag: string
  size: number
  lastModified: Date
}

export interface ListPartsOutput {
  parts: UploadedPart[]
  isTruncated: boolean
  /** The last part number of this page, when truncated. */
  nextPartNumberMarker?: number
}

export interface ListMultipartUploadsInput {
  bucket: string
  prefix?: string
  delimiter?: string
  keyMarker?: string
  /** Only with keyMarker: resume after this upload of keyMarker's key. */
  uploadIdMarker?: string
  /** 1..1000. */
  maxUploads: number
}

export interface MultipartUploadInfo {
  key: string
  uploadId: string
  initiated: Date
}

export interface ListMultipartUploadsOutput {
  uploads: MultipartUploadInfo[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** When truncated: where the next page starts (key, and upload id within that key). */
  nextKeyMarker?: string
  nextUploadIdMarker?: string
}
