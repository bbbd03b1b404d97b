/**
 * @module backend/s3-upstream
 * A `Backend` on a real S3-compatible store (AWS S3, Ceph RGW, MinIO, …) through @aws-sdk/client-s3.
 * This is the only module that imports the SDK, and `toS3Error` below is the only place SDK errors
 * become `S3Error`s. Those errors never carry the upstream's message, endpoint, credentials or a
 * stack in their message, fields or headers (clients must learn nothing about the upstream). Their
 * `cause` is a plain summary for the server's own logs (status, code, request id, the upstream's
 * message), not the SDK error itself, which holds the signed request and its socket.
 *
 * Choices worth knowing:
 * - Checksums are computed/validated only when an operation requires them: the bodies we send are
 *   streams of known length (ciphertext, usually), and RGW answers 411 to the SDK's default
 *   aws-chunked streaming-checksum form.
 * - `putObject` holds back the chunk that completes `contentLength` until the source has finished
 *   cleanly, so a source that throws at its very end (a signature or checksum verified after the last
 *   byte) still leaves the upstream short of bytes; the request is then aborted and the upstream
 *   discards it. Streaming PUTs are never retried by the SDK (the body cannot be replayed).
 * - Read preconditions are evaluated with s3/conditions.ts on the very response that carries the
 *   object, so the result follows S3's rules even where the upstream deviates (RGW 16 ignores
 *   `If-None-Match: *` on GET, answers 412 to `If-Match: *` and to ETag lists, and sends no ETag with
 *   304). Single entity tags and dates are still passed upstream so a failing GET does not start
 *   streaming the body.
 * - Multipart and copies smooth over RGW 16: CompleteMultipartUpload's empty ETag is replaced by a
 *   HEAD's, NoSuchKey from ListParts and a 500 from completing an aborted upload become NoSuchUpload,
 *   copy-result ETags are quoted, and x-amz-copy-source-if-* (ignored by RGW) are checked on a HEAD.
 *   RGW still refuses a complete that does not list every uploaded part (docs/format.md 12.3).
 * - The module is runtime-neutral: how bytes travel (connection pools, TLS trust, stream types) is an
 *   `UpstreamTransport` passed in, s3-upstream-node.ts on Node and s3-upstream-fetch.ts on Workers.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type BucketLocationConstraint,
  type PutObjectCommandInput,
  type S3ClientConfig,
  type GetObjectCommandOutput,
  type PutObjectCommandOutput,
  type UploadPartCommandOutput,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3'
import type { ByteSource } from '../platform/types.js'
import { checkReadConditions, checkWriteConditions, normalizeEtag } from '../s3/conditions.js'
import { S3Error, isS3Error, isS3ErrorCode, type S3ErrorCode } from '../s3/errors.js'
import { invalidRange } from '../s3/range.js'
import { checkCopySourceSize, checkSourceConditions } from './copy.js'
import { compareKeys, unwrapUpstreamToken, wrapUpstreamToken } from './listing.js'
import { invalidPartNumber, noSuchUpload, partRange } from './multipart.js'
import type {
  Backend,
  BackendObserver,
  BucketInfo,
  ByteRange,
  CompleteMultipartUploadInput,
  CompleteMultipartUploadOutput,
  Conditions,
  ContentHeaders,
  CopyObjectInput,
  CopyObjectOutput,
  DeleteObjectsOutput,
  GetObjectInput,
  GetObjectOutput,
  HeadObjectOutput,
  ListMultipartUploadsInput,
  ListMultipartUploadsOutput,
  ListObjectsInput,
  ListObjectsOutput,
  ListPartsInput,
  ListPartsOutput,
  ListedObject,
  MultipartUploadInfo,
  ObjectInfo,
  ObjectMetadata,
  PutObjectInput,
  PutObjectOutput,
  RangeSpec,
  UploadedPart,
  UploadPartInput,
  UploadPartOutput,
  UploadRef,
} from './types.js'

type SdkBody = NonNullable<PutObjectCommandInput['Body']>

/** A request body handed to the SDK, and how to release it once the request is over. */
export interface TransportBody {
  body: SdkBody
  destroy(): void
}

/** What differs between runtimes in talking to the upstream: the SDK's HTTP handler and its stream types. */
export interface UpstreamTransport {
  /** The SDK's request handler (connections, TLS trust, timeouts). */
  requestHandler: NonNullable<S3ClientConfig['requestHandler']>
  /**
   * `source` as a body the handler sends with a known Content-Length (the SDK sets the header from
   * ContentLength). `onError` is called once if reading `source` fails, so the request can be aborted.
   */
  requestBody(source: ByteSource, length: number, onError: (err: unknown) => void): TransportBody
  /** The handler's response body as bytes plus a way to drop it (and its connection); undefined if foreign. */
  responseBody(body: unknown): { source: ByteSource; destroy(): void } | undefined
}

export interface UpstreamOptions {
  /** e.g. `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:7480`; absent: the SDK's AWS endpoint. */
  endpoint?: string
  region: string
  /** Defaults to true when `endpoint` is given (private stores rarely have bucket DNS names), else false. */
  forcePathStyle?: boolean
  /** Absent: the SDK's default chain (AWS_* environment variables, shared config, instance roles, …). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  transport: UpstreamTransport
}

/** S3's DeleteObjects limit. */
const DELETE_BATCH = 1000

/** The 503 for an upstream we cannot reach; deliberately says nothing about which or where it is. */
const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable. Please try again.'

/** The 503 for an upstream whose certificate we do not trust: never sent anyway, and the operator must act. */
const UNTRUSTED_MESSAGE = "The storage upstream's TLS certificate was not trusted by the gateway; the request was not sent."

/** Node's codes for a peer certificate that does not verify (unknown CA, self-signed, expired, wrong name). */
const TLS_TRUST_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID/

/** Upstream error codes that mean the same to our clients as to us, so they pass through by code. */
const PASS_THROUGH = new Set<S3ErrorCode>([
  'AccessDenied',
  'BucketAlreadyExists',
  'BucketAlreadyOwnedByYou',
  'BucketNotEmpty',
  'EntityTooLarge',
  'EntityTooSmall',
  'InternalError',
  'InvalidArgument',
  'InvalidBucketName',
  'InvalidPart',
  'InvalidPartOrder',
  'InvalidRange',
  'InvalidRequest',
  'KeyTooLongError',
  'MetadataTooLarge',
  'MethodNotAllowed',
  'NoSuchBucket',
  'NoSuchKey',
  'NoSuchUpload',
  'NotImplemented',
  'NotModified',
  'PreconditionFailed',
  'RequestTimeout',
  'ServiceUnavailable',
  'SlowDown',
])

/**
 * Error codes of a failed connection (no HTTP answer): the upstream is down, unreachable, too slow,
 * or not speaking HTTP/TLS as configured. Anything else without an HTTP status is our own bug.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPROTO',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  // s3-upstream-fetch.ts: the runtime's fetch rejected (no HTTP answer); it says no more than that.
  'ERR_FETCH_FAILED',
])

/** 400 codes that blame how we signed or framed our request: our fault, not the client's. */
const OUR_FAULT_400 = /Token|Digest|SHA256|Authorization|MalformedXML|ContentLength|IncompleteBody|Security/

interface SdkErrorShape {
  name?: unknown
  code?: unknown
  Code?: unknown
  message?: unknown
  $metadata?: { httpStatusCode?: number; requestId?: string }
  $response?: { statusCode?: number }
}

/** What a 404 without an error code (a HEAD has no body) refers to. */
type Subject = 'bucket' | 'object' | 'upload'

function isNetworkFailure(err: SdkErrorShape): boolean {
  const code = typeof err.code === 'string' ? err.code : ''
  const name = typeof err.name === 'string' ? err.name : ''
  return (
    NETWORK_CODES.has(code) ||
    code.startsWith('HPE_') || // the peer does not speak HTTP
    /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code) || // TLS trust problems
    name === 'TimeoutError' ||
    name === 'AbortError'
  )
}

/**
 * The one mapping from an SDK (or Node socket) error to an S3Error. Only the code is taken from the
 * upstream, and only for codes in PASS_THROUGH; the message is always our default for that code.
 * Upstream authentication failures (wrong keys, skewed clock) become AccessDenied like any 403, so a
 * client is never told its own signature is wrong when ours was.
 */
function toS3Error(err: unknown, subject: Subject): S3Error {
  if (isS3Error(err)) return err
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SdkErrorShape
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode
  const name = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : ''
  const cause = upstreamCause(e, status, name)
  if (status === undefined) {
    if (typeof e.code === 'string' && TLS_TRUST_CODE.test(e.code)) return new S3Error('ServiceUnavailable', UNTRUSTED_MESSAGE, { cause })
    if (isNetworkFailure(e)) return new S3Error('ServiceUnavailable', UNAVAILABLE_MESSAGE, { cause })
    return new S3Error('InternalError', undefined, { cause })
  }
  return new S3Error(passThrough(name) ?? codeForStatus(status, name, subject), undefined, { cause })
}

/** Our code for an upstream error code that means the same to our clients. */
function passThrough(code: string | undefined): S3ErrorCode | undefined {
  return code !== undefined && isS3ErrorCode(code) && PASS_THROUGH.has(code) ? code : undefined
}

/** For operators' logs only: what the upstream said, without the SDK's request, response and socket. */
function upstreamCause(e: SdkErrorShape, status: number | undefined, name: string): Error {
  const code = typeof e.code === 'string' ? ` ${e.code}` : ''
  const requestId = e.$metadata?.requestId ? ` request-id ${e.$metadata.requestId}` : ''
  const message = typeof e.message === 'string' ? e.message : ''
  const cause = new Error(`upstream ${status ?? 'no response'} ${name}${code}${requestId}: ${message}`)
  cause.name = 'UpstreamError'
  return cause
}

function codeForStatus(status: number, name: string, subject: Subject): S3ErrorCode {
  switch (status) {
    case 304:
      return 'NotModified'
    case 400:
      return OUR_FAULT_400.test(name) ? 'InternalError' : 'InvalidRequest'
    case 403:
      return 'AccessDenied'
    case 404:
      return subject === 'bucket' ? 'NoSuchBucket' : subject === 'upload' ? 'NoSuchUpload' : 'NoSuchKey'
    case 405:
      return 'MethodNotAllowed'
    case 412:
      return 'PreconditionFailed'
    case 413:
      return 'EntityTooLarge'
    case 416:
      return 'InvalidRange'
    case 429:
      return 'SlowDown'
    case 501:
      return 'NotImplemented'
    case 502:
    case 503:
    case 504:
      return 'ServiceUnavailable'
    default:
      return 'InternalError'
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as SdkErrorShape | undefined
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode
}

/** ETags go out quoted; RGW quotes them on HEAD/GET/LIST/PUT but not in copy results. */
function quoteEtag(etag: string | undefined): string {
  if (!etag) return '""'
  return etag.startsWith('"') || etag.startsWith('W/"') ? etag : `"${etag}"`
}

/** An If-Match/If-None-Match value the upstream can be trusted with: one tag, sent quoted and strong. */
function singleTag(value: string | undefined): string | undefined {
  if (value === undefined || value.includes(',')) return undefined
  const tag = normalizeEtag(value)
  return tag === '*' || tag === '' ? undefined : `"${tag}"`
}

function upstreamConditions(c: Conditions | undefined) {
  return {
    IfMatch: singleTag(c?.ifMatch),
    IfNoneMatch: singleTag(c?.ifNoneMatch),
    IfModifiedSince: c?.ifModifiedSince,
    IfUnmodifiedSince: c?.ifUnmodifiedSince,
  }
}

function rangeHeader(spec: RangeSpec): string {
  if ('suffix' in spec) return `bytes=-${spec.suffix}`
  return spec.end === undefined ? `bytes=${spec.start}-` : `bytes=${spec.start}-${spec.end}`
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/

function contentHeadersOf(out: HeadObjectCommandOutput | GetObjectCommandOutput): ContentHeaders {
  const headers: ContentHeaders = {}
  if (out.ContentType !== undefined) headers.contentType = out.ContentType
  if (out.CacheControl !== undefined) headers.cacheControl = out.CacheControl
  if (out.ContentDisposition !== undefined) headers.contentDisposition = out.ContentDisposition
  if (out.ContentEncoding !== undefined) headers.contentEncoding = out.ContentEncoding
  if (out.ContentLanguage !== undefined) headers.contentLanguage = out.ContentLanguage
  // ExpiresString is the header as sent; Expires is the SDK's parse of it (absent when unparseable)
  const expires = out.ExpiresString ?? out.Expires?.toUTCString()
  if (expires !== undefined) headers.expires = expires
  return headers
}

function metadataOf(out: HeadObjectCommandOutput | GetObjectCommandOutput): ObjectMetadata {
  const user: Record<string, string> = {}
  for (const [name, value] of Object.entries(out.Metadata ?? {})) user[name.toLowerCase()] = value
  return { headers: contentHeadersOf(out), user }
}

/**
 * The part an upstream answered to a partNumber read. AWS sends the part's Content-Range (and
 * x-amz-mp-parts-count for objects uploaded in parts). RGW 16 ignores partNumber and sends the whole
 * object, which is the right answer only for an object of one part (an ETag without `-N`, or `-1`).
 */
function partAnswer(
  partNumber: number,
  out: HeadObjectCommandOutput | GetObjectCommandOutput,
  etag: string
): { range: ByteRange; partsCount?: number; size: number } {
  const match = CONTENT_RANGE.exec(out.ContentRange ?? '')
  if (match) {
    const range = { start: Number(match[1]), end: Number(match[2]) }
    return { range, size: Number(match[3]), ...(out.PartsCount !== undefined ? { partsCount: out.PartsCount } : {}) }
  }
  const size = out.ContentLength ?? 0
  const count = /-(\d+)"$/.exec(etag)
  if ((count && count[1] !== '1') || (out.PartsCount ?? 1) > 1) {
    const message = 'The upstream store does not serve partNumber reads of multipart objects; use a Range.'
    throw new S3Error('NotImplemented', message)
  }
  return { ...partRange(partNumber, size, count ? [size] : undefined), size }
}

/** An upstream's 416 to a partNumber read, with the part count when its error body gave one. */
function upstreamInvalidPartNumber(partNumber: number, err: unknown): S3Error {
  const actual = Number((err as { ActualPartCount?: unknown }).ActualPartCount)
  return invalidPartNumber(partNumber, Number.isSafeInteger(actual) ? actual : undefined)
}

function infoOf(key: string, out: HeadObjectCommandOutput): ObjectInfo {
  return {
    key,
    size: out.ContentLength ?? 0,
    etag: quoteEtag(out.ETag),
    lastModified: out.LastModified ?? new Date(0),
    metadata: metadataOf(out),
  }
}

function incompleteBody(): S3Error {
  return new S3Error('IncompleteBody')
}

/**
 * Passes `source` on, failing unless it yields exactly `length` bytes. The chunk that completes the
 * length is held back until the source has ended without error: the upstream commits an object once
 * it has Content-Length bytes, so it must not get the last one before we know the body is good.
 */
async function* exactly(source: ByteSource, length: number): AsyncGenerator<Uint8Array> {
  let seen = 0
  let last: Uint8Array | undefined
  for await (const chunk of source) {
    if (chunk.byteLength === 0) continue
    seen += chunk.byteLength
    if (seen > length) throw incompleteBody()
    if (seen === length) last = chunk
    else yield chunk
  }
  if (seen !== length) throw incompleteBody()
  if (last) yield last
}

/**
 * The SDK's response stream as a ByteSource. `return()` (breaking out of `for await`, even before the
 * first chunk) destroys the stream and so its connection, which is then not reused; a transport error
 * or socket timeout mid-body surfaces as a mapped S3Error (503).
 */
function responseBody(body: { source: ByteSource; destroy(): void }): ByteSource {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const inner = body.source[Symbol.asyncIterator]()
      return {
        async next() {
          try {
            return await inner.next()
          } catch (err) {
            body.destroy()
            throw toS3Error(err, 'object')
          }
        },
        async return() {
          body.destroy()
          return { done: true, value: undefined }
        },
      }
    },
  }
}

/** Sends a stored Expires string byte for byte (the SDK only takes a Date for it). */
function sendRawExpires(command: { middlewareStack: unknown }, expires: string | undefined): void {
  if (expires === undefined) return
  // The middleware only touches the HTTP request, so one command type's stack signature serves all.
  const stack = command.middlewareStack as CreateMultipartUploadCommand['middlewareStack']
  stack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> }
      if (request.headers) request.headers['expires'] = expires
      return next(args)
    },
    { step: 'build', name: 's3veilRawExpires' }
  )
}

/** Our object metadata as SDK input fields (Expires goes separately, see sendRawExpires). */
function sdkMetadata(metadata: ObjectMetadata) {
  return {
    // S3 stores binary/octet-stream when a PUT has no Content-Type; stores differ (RGW: application/…).
    ContentType: metadata.headers.contentType ?? 'binary/octet-stream',
    CacheControl: metadata.headers.cacheControl,
    ContentDisposition: metadata.headers.contentDisposition,
    ContentEncoding: metadata.headers.contentEncoding,
    ContentLanguage: metadata.headers.contentLanguage,
    Metadata: metadata.user,
  }
}

/**
 * The shared client, reporting each call's final status and time to `observer` (for the audit record).
 * A call fails, for the metrics, when there was no answer or a 5xx: a 404 or 412 is an answer.
 */
function observedClient(sdk: S3Client, observer: BackendObserver): S3Client {
  const view = Object.create(sdk) as S3Client
  const send = async (command: Parameters<S3Client['send']>[0], options?: Parameters<S3Client['send']>[1]) => {
    const started = performance.now()
    try {
      const out = await sdk.send(command, options as never)
      observer.upstream((out as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, performance.now() - started)
      return out
    } catch (err) {
      const status = statusOf(err)
      const failed = status === undefined || status >= 500
      observer.upstream(status, performance.now() - started, failed ? failureCode(err) : undefined)
      throw err
    }
  }
  view.send = send as S3Client['send']
  return view
}

/** A short, secret-free name for why a call failed: the innermost Node/TLS error code, else the error's name. */
function failureCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code
  }
  return err instanceof Error ? err.name : 'UnknownError'
}

const silentLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} }

export function createUpstreamBackend(opts: UpstreamOptions, view?: { sdk: S3Client; observer: BackendObserver }): Backend {
  const transport = opts.transport
  // Per request (`observe`), the same client (config, connections) with its calls reported.
  const client = view ? observedClient(view.sdk, view.observer) : new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
    credentials: opts.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // One retry for idempotent calls (a stale keep-alive socket, a 503); bodies are never replayed.
    maxAttempts: 2,
    // We write the body at once anyway; the header would only add a round trip.
    expectContinueHeader: false,
    // Directory-bucket names (…--x-s3) would otherwise make the SDK call CreateSession first.
    disableS3ExpressSessionAuth: true,
    // Failures reach the caller as errors; the SDK's console warnings would only bypass our logger.
    logger: silentLogger,
    requestHandler: transport.requestHandler,
  })

  async function send<T>(subject: Subject, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      throw toS3Error(err, subject)
    }
  }

  /**
   * Sends a command whose body streams from `source` (exactly `length` bytes, the last chunk held
   * back). A transport may leave the request open when its source fails, so a body error aborts the
   * request: the connection closes mid-body and the upstream drops the partial object. The body's own
   * error wins over the abort (or whatever else) it caused.
   */
  async function sendStreaming<T>(
    subject: Subject,
    source: ByteSource,
    length: number,
    commandFor: (body: SdkBody) => { middlewareStack: unknown }
  ): Promise<T> {
    let bodyError: { error: unknown } | undefined
    const abort = new AbortController()
    const body = transport.requestBody(exactly(source, length), length, (error) => {
      bodyError ??= { error }
      abort.abort()
    })
    try {
      const command = commandFor(body.body) as Parameters<typeof client.send>[0]
      return (await client.send(command, { abortSignal: abort.signal })) as T
    } catch (err) {
      if (bodyError) throw bodyError.error
      throw toS3Error(err, subject)
    } finally {
      body.destroy()
    }
  }

  /** HEAD without conditions; undefined when the key does not exist. */
  async function currentObject(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      return infoOf(key, await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))
    } catch (err) {
      const mapped = toS3Error(err, 'object')
      if (mapped.code === 'NoSuchKey') return undefined
      throw mapped
    }
  }

  /**
   * A HEAD's 404 has no body to say what is missing: the bucket is asked, so that what is built on a
   * HEAD (a copy's source check, the audit record) names NoSuchBucket when that is the case.
   */
  async function missingOnHead(err: unknown, bucket: string): Promise<S3Error> {
    const mapped = toS3Error(err, 'object')
    if (mapped.code !== 'NoSuchKey') return mapped
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }))
    } catch (bucketErr) {
      const missing = toS3Error(bucketErr, 'bucket')
      if (missing.code === 'NoSuchBucket') return missing
    }
    return mapped
  }

  async function headObject(
    bucket: string,
    key: string,
    conditions?: Conditions,
    partNumber?: number
  ): Promise<HeadObjectOutput> {
    // Evaluated here rather than upstream: one request, S3's precedence rules, and the ETag and
    // Last-Modified a 304 must carry (RGW's 304 has neither).
    let out: HeadObjectCommandOutput
    try {
      out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: partNumber }))
    } catch (err) {
      if (partNumber !== undefined && statusOf(err) === 416) throw upstreamInvalidPartNumber(partNumber, err)
      throw await missingOnHead(err, bucket)
    }
    const info = infoOf(key, out)
    checkReadConditions(conditions, info.etag, info.lastModified)
    if (partNumber === undefined) return info
    const { size, ...part } = partAnswer(partNumber, out, info.etag)
    return { ...info, size, ...part }
  }

  /**
   * Rethrows a failed GET as our error. For 304/412/416 the answer is re-decided by our own rules on a
   * fresh HEAD, which also supplies what the error must carry (ETag and Last-Modified for 304, the
   * size for 416; RGW's 304 and 416 have neither); 'retry-unconditionally' when the conditions hold.
   */
  async function explainRefusal(input: GetObjectInput, err: unknown): Promise<'retry-unconditionally'> {
    const status = statusOf(err)
    if (status !== 304 && status !== 412 && status !== 416) throw toS3Error(err, 'object')
    const info = await currentObject(input.bucket, input.key)
    if (!info) throw new S3Error('NoSuchKey')
    checkReadConditions(input.conditions, info.etag, info.lastModified)
    if (status === 416) throw invalidRange(info.size)
    // The conditions hold now: the object changed in between, or the upstream judged differently.
    return 'retry-unconditionally'
  }

  async function fetchObject(input: GetObjectInput, passConditions: boolean): Promise<GetObjectOutput> {
    const { bucket, key, range, partNumber, conditions } = input
    let out: GetObjectCommandOutput
    try {
      out = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: range ? rangeHeader(range) : undefined,
          PartNumber: partNumber,
          ...(passConditions ? upstreamConditions(conditions) : {}),
        })
      )
    } catch (err) {
      if (partNumber !== undefined && statusOf(err) === 416) throw upstreamInvalidPartNumber(partNumber, err)
      const verdict = await explainRefusal(input, err)
      if (verdict === 'retry-unconditionally' && passConditions) return fetchObject(input, false)
      throw toS3Error(err, 'object')
    }
    const stream = transport.responseBody(out.Body)
    if (!stream) {
      throw new S3Error('InternalError', undefined, { cause: new Error('GetObject body is not a stream of this transport') })
    }
    try {
      const etag = quoteEtag(out.ETag)
      const lastModified = out.LastModified ?? new Date(0)
      checkReadConditions(conditions, etag, lastModified)
      let size = out.ContentLength ?? 0
      let resolved: ByteRange | undefined
      let partsCount: number | undefined
      if (partNumber !== undefined) {
        ;({ size, range: resolved, partsCount } = partAnswer(partNumber, out, etag))
      } else if (range) {
        const match = CONTENT_RANGE.exec(out.ContentRange ?? '')
        if (match) {
          resolved = { start: Number(match[1]), end: Number(match[2]) }
          size = Number(match[3])
        } else if (size === 0) {
          throw invalidRange(0)
        } else {
          // The upstream sent the whole object for a satisfiable range: say so truthfully.
          resolved = { start: 0, end: size - 1 }
        }
      }
      return {
        key,
        size,
        etag,
        lastModified,
        metadata: metadataOf(out),
        body: responseBody(stream),
        ...(resolved ? { range: resolved } : {}),
        ...(partsCount !== undefined ? { partsCount } : {}),
      }
    } catch (err) {
      stream.destroy()
      throw err
    }
  }

  // ---- multipart uploads ----

  async function createMultipartUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string> {
    const command = new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ...sdkMetadata(metadata),
    })
    sendRawExpires(command, metadata.headers.expires)
    const out = await send('object', () => client.send(command))
    if (!out.UploadId) throw new S3Error('InternalError', undefined, { cause: new Error('upstream returned no UploadId') })
    return out.UploadId
  }

  /** A part's body streams as putObject's does: exact length, last chunk held back, body error wins. */
  async function uploadPart(input: UploadPartInput): Promise<UploadPartOutput> {
    const out = await sendStreaming<UploadPartCommandOutput>('upload', input.body, input.contentLength, (body) =>
      new UploadPartCommand({
        Bucket: input.bucket,
        Key: input.key,
        UploadId: input.uploadId,
        PartNumber: input.partNumber,
        Body: body,
        ContentLength: input.contentLength,
      })
    )
    return { etag: quoteEtag(out.ETag) }
  }

  /** Whether the upload still exists upstream (to explain an upstream's unhelpful failure). */
  async function uploadExists(ref: UploadRef): Promise<boolean> {
    try {
      await listParts({ ...ref, maxParts: 1 })
      return true
    } catch (err) {
      if (isS3Error(err) && err.code === 'NoSuchUpload') return false
      throw err
    }
  }

  async function completeMultipartUpload(input: CompleteMultipartUploadInput): Promise<CompleteMultipartUploadOutput> {
    const { bucket, key, conditions } = input
    if (conditions && (conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined)) {
      // As for putObject: checked here too, since stores differ in honouring these (not atomic with the complete).
      checkWriteConditions(conditions, await currentObject(bucket, key))
    }
    let etag: string | undefined
    try {
      const out = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: input.uploadId,
          MultipartUpload: {
            Parts: input.parts.map((part) => ({ PartNumber: part.partNumber, ETag: `"${normalizeEtag(part.etag)}"` })),
          },
          IfMatch: singleTag(conditions?.ifMatch)?.slice(1, -1),
          IfNoneMatch: conditions?.ifNoneMatch?.trim() === '*' ? '*' : undefined,
        })
      )
      etag = out.ETag || undefined
    } catch (err) {
      const mapped = toS3Error(err, 'upload')
      // RGW answers 500 to completing an aborted upload; S3 says NoSuchUpload.
      if (mapped.code === 'InternalError' && !(await uploadExists(input).catch(() => true))) {
        throw noSuchUpload(input.uploadId)
      }
      throw mapped
    }
    // RGW's answer has an empty ETag; the object's own (HEAD) is right. A write landing in between
    // would make this the newer object's ETag.
    if (etag === undefined) etag = (await currentObject(bucket, key))?.etag
    if (etag === undefined) throw new S3Error('InternalError', undefined, { cause: new Error('no ETag after complete') })
    return { etag: quoteEtag(etag) }
  }

  async function abortMultipartUpload(ref: UploadRef): Promise<void> {
    await send('upload', () =>
      client.send(new AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: ref.uploadId }))
    )
  }

  async function listParts(input: ListPartsInput): Promise<ListPartsOutput> {
    let out
    try {
      out = await client.send(
        new ListPartsCommand({
          Bucket: input.bucket,
          Key: input.key,
          UploadId: input.uploadId,
          MaxParts: input.maxParts,
          PartNumberMarker: input.partNumberMarker ? String(input.partNumberMarker) : undefined,
        })
      )
    } catch (err) {
      const mapped = toS3Error(err, 'upload')
      // RGW answers NoSuchKey for an unknown upload id.
      if (mapped.code === 'NoSuchKey') throw noSuchUpload(input.uploadId)
      throw mapped
    }
    const parts: UploadedPart[] = (out.Parts ?? []).flatMap((p) =>
      p.PartNumber === undefined
        ? []
        : [{ partNumber: p.PartNumber, etag: quoteEtag(p.ETag), size: p.Size ?? 0, lastModified: p.LastModified ?? new Date(0) }]
    )
    const isTruncated = out.IsTruncated ?? false
    const next = Number(out.NextPartNumberMarker ?? parts.at(-1)?.partNumber)
    return isTruncated && Number.isInteger(next) && next > 0
      ? { parts, isTruncated, nextPartNumberMarker: next }
      : { parts, isTruncated }
  }

  async function listMultipartUploads(input: ListMultipartUploadsInput): Promise<ListMultipartUploadsOutput> {
    const out = await send('bucket', () =>
      client.send(
        new ListMultipartUploadsCommand({
          Bucket: input.bucket,
          Prefix: input.prefix || undefined,
          Delimiter: input.delimiter || undefined,
          KeyMarker: input.keyMarker || undefined,
          UploadIdMarker: input.keyMarker ? input.uploadIdMarker || undefined : undefined,
          MaxUploads: input.maxUploads,
        })
      )
    )
    const uploads: MultipartUploadInfo[] = (out.Uploads ?? []).flatMap((u) =>
      u.Key === undefined || u.UploadId === undefined
        ? []
        : [{ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) }]
    )
    const result: ListMultipartUploadsOutput = {
      uploads,
      commonPrefixes: prefixesOf(out.CommonPrefixes),
      isTruncated: out.IsTruncated ?? false,
    }
    if (result.isTruncated) {
      const nextKeyMarker = out.NextKeyMarker || lastInOrder(uploads.at(-1)?.key, result.commonPrefixes.at(-1))
      if (nextKeyMarker) result.nextKeyMarker = nextKeyMarker
      if (out.NextUploadIdMarker) result.nextUploadIdMarker = out.NextUploadIdMarker
    }
    return result
  }

  async function copyObject(input: CopyObjectInput): Promise<CopyObjectOutput> {
    const { source, metadata } = input
    // RGW ignores x-amz-copy-source-if-*: they are checked here on a HEAD too (not atomic with the copy
    // there; AWS applies the ones sent along atomically).
    const current = await headObject(source.bucket, source.key)
    checkSourceConditions(input.sourceConditions, current.etag, current.lastModified)
    checkCopySourceSize(current.size)
    const conditions = upstreamConditions(input.sourceConditions)
    const command = new CopyObjectCommand({
      Bucket: input.bucket,
      Key: input.key,
      CopySource: `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
      CopySourceIfMatch: conditions.IfMatch,
      CopySourceIfNoneMatch: conditions.IfNoneMatch,
      CopySourceIfModifiedSince: conditions.IfModifiedSince,
      CopySourceIfUnmodifiedSince: conditions.IfUnmodifiedSince,
      MetadataDirective: metadata ? 'REPLACE' : 'COPY',
      ...(metadata ? sdkMetadata(metadata) : {}),
    })
    sendRawExpires(command, metadata?.headers.expires)
    const out = await send('object', () => client.send(command))
    const result = out.CopyObjectResult
    return { etag: quoteEtag(result?.ETag), lastModified: result?.LastModified ?? new Date() }
  }

  const sdk = view?.sdk ?? client
  return {
    observe: (observer) => createUpstreamBackend(opts, { sdk, observer }),

    /** Readiness: a one-bucket listing. Refused only for lack of permission still proves reach and credentials. */
    async check() {
      try {
        await client.send(new ListBucketsCommand({ MaxBuckets: 1 }))
      } catch (err) {
        const name = (err as SdkErrorShape).name
        if (statusOf(err) === 403 && name === 'AccessDenied') return
        throw toS3Error(err, 'bucket')
      }
    },

    async listBuckets(): Promise<BucketInfo[]> {
      const buckets: BucketInfo[] = []
      let token: string | undefined
      do {
        const page = new ListBucketsCommand({ ContinuationToken: token })
        const out = await send('bucket', () => client.send(page))
        for (const b of out.Buckets ?? []) {
          if (b.Name !== undefined) buckets.push({ name: b.Name, creationDate: b.CreationDate ?? new Date(0) })
        }
        token = out.ContinuationToken || undefined
      } while (token)
      return buckets
    },

    async createBucket(bucket) {
      // us-east-1 is the one region S3 wants no LocationConstraint for
      const configuration =
        opts.region === 'us-east-1'
          ? undefined
          : { LocationConstraint: opts.region as BucketLocationConstraint }
      await send('bucket', () =>
        client.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: configuration }))
      )
    },

    async deleteBucket(bucket) {
      await send('bucket', () => client.send(new DeleteBucketCommand({ Bucket: bucket })))
    },

    async headBucket(bucket) {
      await send('bucket', () => client.send(new HeadBucketCommand({ Bucket: bucket })))
    },

    async getBucketLocation(bucket) {
      const out = await send('bucket', () => client.send(new GetBucketLocationCommand({ Bucket: bucket })))
      // S3 answers an empty constraint for us-east-1; other stores answer what they call their region
      // (RGW: its zonegroup name, e.g. "default"), which is passed on as is.
      return out.LocationConstraint ?? ''
    },

    async listObjects(input: ListObjectsInput): Promise<ListObjectsOutput> {
      // S3 answers max-keys=0 with an empty, untruncated page; no need to ask.
      if (input.maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false }
      // Keys are requested raw (no EncodingType): RGW's url-encoded listings echo some fields encoded
      // and others not, and the SDK's XML parser already returns control characters intact.
      const common = {
        Bucket: input.bucket,
        Prefix: input.prefix || undefined,
        Delimiter: input.delimiter || undefined,
        MaxKeys: input.maxKeys,
      }
      if (input.marker !== undefined) {
        const out = await send('bucket', () =>
          client.send(new ListObjectsCommand({ ...common, Marker: input.marker || undefined }))
        )
        const objects = objectsOf(out.Contents)
        const commonPrefixes = prefixesOf(out.CommonPrefixes)
        const isTruncated = out.IsTruncated ?? false
        const result: ListObjectsOutput = { objects, commonPrefixes, isTruncated }
        if (isTruncated) {
          // S3 sends NextMarker only with a delimiter; otherwise the next page starts after the last key.
          const nextMarker = out.NextMarker || lastInOrder(objects.at(-1)?.key, commonPrefixes.at(-1))
          if (nextMarker !== undefined) result.nextMarker = nextMarker
        }
        return result
      }

      const out = await send('bucket', () =>
        client.send(
          new ListObjectsV2Command({
            ...common,
            ContinuationToken: input.continuationToken === undefined ? undefined : unwrapUpstreamToken(input.continuationToken),
            StartAfter: input.continuationToken === undefined ? input.startAfter || undefined : undefined,
          })
        )
      )
      const result: ListObjectsOutput = {
        objects: objectsOf(out.Contents),
        commonPrefixes: prefixesOf(out.CommonPrefixes),
        isTruncated: out.IsTruncated ?? false,
      }
      if (result.isTruncated && out.NextContinuationToken) {
        result.nextContinuationToken = wrapUpstreamToken(out.NextContinuationToken)
      }
      return result
    },

    headObject,

    async getObject(input: GetObjectInput): Promise<GetObjectOutput> {
      if (input.range && 'suffix' in input.range && input.range.suffix === 0) {
        // S3 answers 416 to bytes=-0; RGW sends the whole object instead.
        const info = await headObject(input.bucket, input.key, input.conditions)
        throw invalidRange(info.size)
      }
      return fetchObject(input, true)
    },

    async putObject(input: PutObjectInput): Promise<PutObjectOutput> {
      const { bucket, key, metadata, conditions } = input
      if (conditions && (conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined)) {
        // Checked here as well as sent upstream: stores differ (some ignore conditional PUTs; RGW 16 honours
        // `If-None-Match: *` and an unquoted If-Match but answers 412 where S3 says NoSuchKey). The HEAD is
        // not atomic with the PUT: where the upstream ignores the headers, a write landing in between
        // goes unnoticed.
        checkWriteConditions(conditions, await currentObject(bucket, key))
      }
      const out = await sendStreaming<PutObjectCommandOutput>('object', input.body, input.contentLength, (body) => {
        const command = new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: input.contentLength,
          ...sdkMetadata(metadata),
          // Unquoted on purpose: RGW (and DigitalOcean Spaces, RGW-based) compare a PUT's If-Match with the
          // bare ETag and refuse the quoted form; AWS accepts both. If-None-Match on PUT is only ever `*`.
          IfMatch: singleTag(conditions?.ifMatch)?.slice(1, -1),
          IfNoneMatch: conditions?.ifNoneMatch?.trim() === '*' ? '*' : undefined,
        })
        sendRawExpires(command, metadata.headers.expires)
        return command
      })
      return { etag: quoteEtag(out.ETag) }
    },

    async deleteObject(bucket, key) {
      await send('object', () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })))
    },

    async deleteObjects(bucket, keys): Promise<DeleteObjectsOutput> {
      const result: DeleteObjectsOutput = { deleted: [], errors: [] }
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH)
        const out = await send('bucket', () =>
          client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: false },
            })
          )
        )
        for (const d of out.Deleted ?? []) if (d.Key !== undefined) result.deleted.push(d.Key)
        for (const e of out.Errors ?? []) {
          if (e.Key === undefined) continue
          // Per-key errors reach the client too: our code and default message, never the upstream's text.
          const code = passThrough(e.Code) ?? 'InternalError'
          result.errors.push({ key: e.Key, code, message: new S3Error(code).message })
        }
      }
      return result
    },

    createMultipartUpload,
    uploadPart,
    completeMultipartUpload,
    abortMultipartUpload,
    listParts,
    listMultipartUploads,
    copyObject,
  }
}

type SdkListed = { Key?: string; Size?: number; ETag?: string; LastModified?: Date }

function objectsOf(contents: SdkListed[] = []): ListedObject[] {
  return contents.flatMap((o) => {
    if (o.Key === undefined) return []
    const lastModified = o.LastModified ?? new Date(0)
    return [{ key: o.Key, size: o.Size ?? 0, etag: quoteEtag(o.ETag), lastModified }]
  })
}

function prefixesOf(list: { Prefix?: string }[] = []): string[] {
  return list.flatMap((p) => (p.Prefix === undefined ? [] : [p.Prefix]))
}

/** The later of the last key and the last common prefix, in S3's (UTF-8 byte) order. */
function lastInOrder(key: string | undefined, prefix: string | undefined): string | undefined {
  if (key === undefined || prefix === undefined) return key ?? prefix
  return compareKeys(key, prefix) >= 0 ? key : prefix
}
