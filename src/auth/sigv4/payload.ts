/**
 * @module auth/sigv4/payload
 * Chooses and chains the body verifiers for a verified request: the signed SHA-256, the aws-chunked
 * decoder with its chunk and trailer signatures, the decoded length, and the x-amz-checksum-* /
 * Content-MD5 digests. Everything streams in constant memory.
 *
 * Failures are thrown from inside the iteration. The most recent piece is always held back until the
 * next one has passed the running checks, and the last piece until every end-of-body check has
 * passed, so a consumer that writes what it receives never has the complete body when verification
 * fails.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */
import type { ByteSource, Platform } from '../../platform/types.js'
import { S3Error } from '../../s3/errors.js'
import { toHex } from './bytes.js'
import { ChecksumVerifier, planChecksums, type VerifiedChecksum } from './checksums.js'
import { decodeAwsChunked } from './chunked.js'
import type { SigV4Request } from './parse.js'
import type { VerifiedRequest } from './verify.js'

export interface VerifiedPayload {
  /** Decoded object bytes; verification happens as it is consumed. */
  body: ByteSource
  /** Decoded length: x-amz-decoded-content-length for aws-chunked, else Content-Length. */
  contentLength: number | undefined
  /**
   * Resolves once the body has been fully consumed: the verified x-amz-checksum-* to echo in the
   * response (header `x-amz-checksum-<algorithm lowercase>`, base64 value). Rejects if the body failed
   * or was abandoned.
   */
  checksum: Promise<VerifiedChecksum | undefined>
}

/** A check that sees every decoded byte and may fail at once or at the end. */
interface BodyCheck {
  update(piece: Uint8Array): void
  finish(): Promise<void>
}

/**
 * Builds the verified body of a request that verifyRequest accepted. Header-level problems (bad
 * Content-MD5, malformed checksum headers, missing decoded length) throw here, before any byte is read.
 */
export function verifyPayload(
  body: ByteSource,
  verified: VerifiedRequest,
  req: SigV4Request,
  platform: Platform
): VerifiedPayload {
  const mode = verified.payload
  const chunked =
    mode === 'streaming-signed' ||
    mode === 'streaming-signed-trailer' ||
    mode === 'streaming-unsigned-trailer'
  const trailers = mode === 'streaming-signed-trailer' || mode === 'streaming-unsigned-trailer'
  const plan = planChecksums(req.headers, trailers)

  const contentLength = chunked
    ? decodedContentLength(req.headers)
    : parseLength(req.headers.get('content-length'))

  const checks: BodyCheck[] = []
  if (contentLength !== undefined) checks.push(lengthCheck(contentLength))
  if (mode === 'sha256') checks.push(sha256Check(platform, verified.contentSha256!))

  const checksum = new ChecksumVerifier(platform, plan)
  const source = chunked
    ? decodeAwsChunked(body, {
        platform,
        ...(mode === 'streaming-unsigned-trailer' ? {} : { signing: verified.signing }),
        trailers,
        onTrailers: (received) => checksum.setTrailers(received),
      })
    : body

  let settle!: { resolve: (value: VerifiedChecksum | undefined) => void; reject: (error: unknown) => void }
  const result = new Promise<VerifiedChecksum | undefined>(
    (resolve, reject) => (settle = { resolve, reject })
  )
  // A caller that never awaits the checksum must not see an unhandled rejection.
  result.catch(() => {})

  return { body: guarded(source, checks, checksum, settle), contentLength, checksum: result }
}

async function* guarded(
  source: ByteSource,
  checks: readonly BodyCheck[],
  checksum: ChecksumVerifier,
  settle: { resolve: (value: VerifiedChecksum | undefined) => void; reject: (error: unknown) => void }
): AsyncGenerator<Uint8Array, void, undefined> {
  let settled = false
  let pending: Uint8Array | undefined
  try {
    for await (const piece of source) {
      if (piece.byteLength === 0) continue
      for (const check of checks) check.update(piece)
      checksum.update(piece)
      if (pending) yield pending
      pending = piece
    }
    for (const check of checks) await check.finish()
    const verified = await checksum.finish()
    if (pending) yield pending
    settled = true
    settle.resolve(verified)
  } catch (error) {
    settled = true
    settle.reject(error)
    throw error
  } finally {
    if (!settled) settle.reject(new Error('The request body was not fully consumed.'))
  }
}

function parseLength(value: string | null): number | undefined {
  if (value === null || !/^\s*\d{1,16}\s*$/.test(value)) return undefined
  const length = Number(value)
  return Number.isSafeInteger(length) ? length : undefined
}

/**
 * aws-chunked bodies must declare their decoded size; S3 answers 411 MissingContentLength without it.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
function decodedContentLength(headers: Headers): number {
  const value = headers.get('x-amz-decoded-content-length')
  if (value === null)
    throw new S3Error('MissingContentLength', 'You must provide the x-amz-decoded-content-length header.')
  const length = parseLength(value)
  if (length === undefined) {
    throw new S3Error('InvalidArgument', 'Invalid x-amz-decoded-content-length.', {
      fields: { ArgumentName: 'x-amz-decoded-content-length', ArgumentValue: value },
    })
  }
  return length
}

/** The body must be exactly `expected` bytes; excess fails before it is passed on. */
function lengthCheck(expected: number): BodyCheck {
  let total = 0
  return {
    update(piece) {
      total += piece.byteLength
      if (total > expected) {
        throw new S3Error('IncompleteBody', 'The request body is longer than its declared length.')
      }
    },
    async finish() {
      if (total < expected) throw new S3Error('IncompleteBody')
    },
  }
}

/** The body's SHA-256 must equal the signed x-amz-content-sha256. */
function sha256Check(platform: Platform, expectedHex: string): BodyCheck {
  const hash = platform.createHash('sha256')
  return {
    update: (piece) => hash.update(piece),
    async finish() {
      const actual = toHex(await hash.digest())
      if (actual !== expectedHex) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
          fields: { ClientComputedContentSHA256: expectedHex, S3ComputedContentSHA256: actual },
        })
      }
    },
  }
}

/**
 * Content-Encoding without the aws-chunked token, for storing with the object (S3 stores the rest);
 * undefined when nothing remains.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
export function stripAwsChunked(contentEncoding: string | null | undefined): string | undefined {
  if (!contentEncoding) return undefined
  const rest = contentEncoding
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '' && token.toLowerCase() !== 'aws-chunked')
  return rest.length > 0 ? rest.join(',') : undefined
}
