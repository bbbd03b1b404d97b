/**
 * @module auth/sigv4/checksums
 * Object-integrity checks a client asks for: one `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`
 * value given as a header or, when named by `x-amz-trailer`, in the aws-chunked trailer; and
 * `Content-MD5`. Header syntax is checked before any body byte is read; digests are computed only for
 * what the client sent (never MD5 unless Content-MD5 was given).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
 */
import type { HashAlgorithm, IncrementalHash, Platform } from '../../platform/types.js'
import { S3Error } from '../../s3/errors.js'
import { fromBase64, toBase64 } from './bytes.js'

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'

interface AlgorithmInfo {
  hash: HashAlgorithm
  /** Header (and trailer) name carrying the base64 value. */
  header: string
  /** Digest length in bytes. */
  bytes: number
}

export const CHECKSUM_ALGORITHMS: Readonly<Record<ChecksumAlgorithm, AlgorithmInfo>> = {
  CRC32: { hash: 'crc32', header: 'x-amz-checksum-crc32', bytes: 4 },
  CRC32C: { hash: 'crc32c', header: 'x-amz-checksum-crc32c', bytes: 4 },
  CRC64NVME: { hash: 'crc64nvme', header: 'x-amz-checksum-crc64nvme', bytes: 8 },
  SHA1: { hash: 'sha1', header: 'x-amz-checksum-sha1', bytes: 20 },
  SHA256: { hash: 'sha256', header: 'x-amz-checksum-sha256', bytes: 32 },
}

/** `x-amz-checksum-*` headers that name a setting rather than carry a value. */
const NOT_VALUES = new Set(['x-amz-checksum-type', 'x-amz-checksum-algorithm', 'x-amz-checksum-mode'])

/** The algorithm whose value travels under this header name, if any. */
export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const lower = name.toLowerCase()
  for (const [algorithm, info] of Object.entries(CHECKSUM_ALGORITHMS)) {
    if (info.header === lower) return algorithm as ChecksumAlgorithm
  }
  return undefined
}

/** What a request asks to have verified, read from its headers. */
export interface ChecksumPlan {
  /** The x-amz-checksum-* algorithm to compute, if any. */
  algorithm?: ChecksumAlgorithm
  /** Its expected digest, when sent as a header. */
  expected?: Uint8Array
  /** When the value comes in the trailer: the trailer name. */
  trailer?: string
  /** Content-MD5 digest, when sent. */
  md5?: Uint8Array
}

function invalid(message: string): S3Error {
  return new S3Error('InvalidRequest', message)
}

/**
 * Reads and validates the checksum headers. `trailersAllowed` says whether the payload form can carry
 * a trailer (the STREAMING-*-TRAILER forms). Throws InvalidRequest or InvalidDigest as S3 does.
 */
export function planChecksums(headers: Headers, trailersAllowed: boolean): ChecksumPlan {
  const plan: ChecksumPlan = {}

  const md5 = headers.get('content-md5')
  if (md5 !== null) {
    const digest = fromBase64(md5.trim())
    if (!digest || digest.length !== 16) throw new S3Error('InvalidDigest')
    plan.md5 = digest
  }

  const given: ChecksumAlgorithm[] = []
  for (const [name, value] of headers) {
    if (!name.startsWith('x-amz-checksum-') || NOT_VALUES.has(name)) continue
    const algorithm = algorithmOfHeader(name)
    if (!algorithm) throw invalid(`Unsupported checksum header ${name}.`)
    const digest = fromBase64(value.trim())
    if (!digest || digest.length !== CHECKSUM_ALGORITHMS[algorithm].bytes) {
      throw invalid(`Value for ${name} header is invalid.`)
    }
    given.push(algorithm)
    plan.algorithm = algorithm
    plan.expected = digest
  }

  const declared = (headers.get('x-amz-trailer') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '')
  for (const name of declared) {
    const algorithm = algorithmOfHeader(name)
    if (!algorithm)
      throw invalid(`The value specified in the x-amz-trailer header is not supported: ${name}.`)
    if (!trailersAllowed) {
      throw invalid(
        'x-amz-trailer requires x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER or ' +
          'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.'
      )
    }
    given.push(algorithm)
    plan.algorithm = algorithm
    plan.trailer = name
  }
  if (given.length > 1)
    throw invalid('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.')

  const sdk = headers.get('x-amz-sdk-checksum-algorithm')
  if (sdk !== null) {
    const named = sdk.trim().toUpperCase()
    // Alone it asks for nothing to be verified; with a value it must name the same algorithm.
    if (
      !Object.hasOwn(CHECKSUM_ALGORITHMS, named) ||
      (plan.algorithm !== undefined && plan.algorithm !== named)
    ) {
      throw invalid('Value for x-amz-sdk-checksum-algorithm header is invalid.')
    }
  }
  return plan
}

/** The verified checksum to echo in the response (`x-amz-checksum-<algorithm lowercase>`). */
export interface VerifiedChecksum {
  algorithm: ChecksumAlgorithm
  /** Base64, as S3 writes it. */
  value: string
}

/**
 * Computes the digests a plan asks for over the decoded body and compares them at the end.
 * `setTrailers` must be called (by the aws-chunked decoder) before `finish` when the value is trailed.
 */
export class ChecksumVerifier {
  readonly #plan: ChecksumPlan
  readonly #hash: IncrementalHash | undefined
  readonly #md5: IncrementalHash | undefined
  #trailers: Map<string, string> | undefined

  constructor(platform: Platform, plan: ChecksumPlan) {
    this.#plan = plan
    const wanted = plan.expected !== undefined || plan.trailer !== undefined
    this.#hash =
      wanted && plan.algorithm ? platform.createHash(CHECKSUM_ALGORITHMS[plan.algorithm].hash) : undefined
    this.#md5 = plan.md5 ? platform.createHash('md5') : undefined
  }

  /** True when there is nothing to compute. */
  get idle(): boolean {
    return !this.#hash && !this.#md5
  }

  update(data: Uint8Array): void {
    this.#hash?.update(data)
    this.#md5?.update(data)
  }

  /** Takes the trailing headers; only the declared checksum may appear. */
  setTrailers(trailers: Map<string, string>): void {
    for (const name of trailers.keys()) {
      if (name !== this.#plan.trailer)
        throw invalid(`The trailing header ${name} was not declared in x-amz-trailer.`)
    }
    this.#trailers = trailers
  }

  /** Compares the digests; throws BadDigest (or InvalidRequest for a bad trailer value). */
  async finish(): Promise<VerifiedChecksum | undefined> {
    const plan = this.#plan
    if (this.#md5 && plan.md5) {
      const digest = await this.#md5.digest()
      if (!sameBytes(digest, plan.md5)) {
        throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.')
      }
    }
    if (!this.#hash || !plan.algorithm) return undefined
    const info = CHECKSUM_ALGORITHMS[plan.algorithm]
    let expected = plan.expected
    if (plan.trailer !== undefined) {
      const value = this.#trailers?.get(plan.trailer)
      if (value === undefined)
        throw invalid(`The trailing header ${plan.trailer} declared in x-amz-trailer was not sent.`)
      expected = fromBase64(value)
      if (!expected || expected.length !== info.bytes)
        throw invalid(`Value for ${plan.trailer} trailing header is invalid.`)
    }
    const digest = await this.#hash.digest()
    if (!expected || !sameBytes(digest, expected)) {
      throw new S3Error(
        'BadDigest',
        `The ${plan.algorithm} you specified did not match the calculated checksum.`
      )
    }
    return { algorithm: plan.algorithm, value: toBase64(digest) }
  }
}

// Digests of public data; a constant-time compare buys nothing here.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
