/**
 * @module auth/sigv4/verify
 * The entry point of SigV4 request authentication: checks the request's signature (Authorization
 * header or presigned query), its time, and its payload declaration, and returns what the body
 * verifier (payload.ts) needs. Rules follow S3, which differs from other services: the path is
 * encoded once and never normalized, `x-amz-content-sha256` is mandatory for header auth, every
 * `x-amz-*` header must be signed, and presigned URLs are bound by X-Amz-Expires rather than by the
 * 15-minute skew window.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
import type { Platform } from '../../platform/types.js'
import { S3Error } from '../../s3/errors.js'
import { fromHex, signedBytes, toHex } from './bytes.js'
import {
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  decodeUtf8,
  percentDecode,
  splitQuery,
  stringToSign,
} from './canonical.js'
import {
  ALGORITHM,
  formatIsoSeconds,
  hasSigV4,
  isPresigned,
  parseAmzDate,
  parseAuthorizationHeader,
  parsePresignedQuery,
  readRequestTime,
  type CredentialScope,
  type HeaderAuth,
  type PresignedAuth,
  type SigV4Request,
} from './parse.js'
import { defaultSigningKeyCache, type SigningKeyCache } from './signing-key.js'

export { hasSigV4, type CredentialScope, type SigV4Request }
// The body half of the API lives in payload.ts; re-exported so callers need one import.
export { verifyPayload, type VerifiedPayload } from './payload.js'

/** Default and S3's maximum clock difference for header-signed requests. */
export const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000

export interface Credential {
  accessKeyId: string
  secretAccessKey: string
  principal: unknown
}

/**
 * Resolves an access key (and the session token the request carried, if any) to its credential;
 * undefined when unknown. It may itself throw an S3Error (e.g. InvalidToken, ExpiredToken).
 */
export type CredentialLookup = (accessKeyId: string, sessionToken?: string) => Promise<Credential | undefined>

/**
 * How the body is protected, from `x-amz-content-sha256` (or, presigned, X-Amz-Content-Sha256):
 * a hex SHA-256, UNSIGNED-PAYLOAD, or one of the aws-chunked STREAMING-* forms.
 */
export type PayloadMode =
  'sha256' | 'unsigned' | 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer'

/** What chunk and trailer signatures chain from. */
export interface StreamingSigning {
  /** The derived signing key of the request's scope. */
  key: Uint8Array
  /** The request timestamp, `yyyyMMddTHHmmssZ`. */
  amzDate: string
  /** `date/region/service/aws4_request`. */
  scope: string
  /** The request's own signature, which the first chunk signature chains from. */
  seedSignature: string
}

export interface VerifiedRequest {
  credential: Credential
  /** Which decoded path the signature verified against: the key bytes come from this. */
  path: string
  payload: PayloadMode
  presigned: boolean
  scope: CredentialScope
  /** The signed SHA-256 of the body (lowercase hex) when `payload` is 'sha256'. */
  contentSha256?: string
  /** Present for every verified request; used by the streaming payload forms. */
  signing: StreamingSigning
  sessionToken?: string
}

export interface VerifyOptions {
  lookup: CredentialLookup
  platform: Platform
  now: Date
  /** Allowed difference between the request time and `now`; default 15 minutes. */
  maxSkewMs?: number
  /**
   * Credential-scope services accepted; default `['s3']`. A deployment that also answers e.g. STS can
   * add `'sts'`; for such services `x-amz-content-sha256` is optional and `payloadSha256` supplies the
   * body hash instead.
   */
  services?: readonly string[]
  /** Hex SHA-256 of an already buffered body, for non-S3 services that do not send x-amz-content-sha256. */
  payloadSha256?: string
  /** Cache of derived signing keys; default a process-wide one. */
  signingKeyCache?: SigningKeyCache
}

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'

// A Map, not an object literal: the value is client input, and must not reach Object.prototype.
const STREAMING_MODES = new Map<string, PayloadMode>([
  ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'streaming-signed'],
  ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'streaming-signed-trailer'],
  ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'streaming-unsigned-trailer'],
])

/**
 * Maps an x-amz-content-sha256 value to a payload mode. ECDSA (SigV4a) streaming is recognised but
 * not implemented; anything else is the InvalidArgument S3 returns.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html
 */
export function payloadModeOf(value: string): PayloadMode {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return 'sha256'
  if (value === UNSIGNED_PAYLOAD) return 'unsigned'
  const streaming = STREAMING_MODES.get(value)
  if (streaming) return streaming
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new S3Error('NotImplemented', 'SigV4a (ECDSA) streaming payloads are not supported.')
  }
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, ' +
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { fields: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value } }
  )
}

/**
 * Verifies a SigV4 request and returns the authenticated credential and how the body must be verified.
 * Throws S3Error for every failure, with the code S3 would use.
 */
export async function verifyRequest(req: SigV4Request, opts: VerifyOptions): Promise<VerifiedRequest> {
  const services = opts.services ?? ['s3']
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS
  const presigned = isPresigned(req)
  if (presigned && req.headers.has('authorization')) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string ' +
        'parameter or the Authorization header should be specified',
      { fields: { ArgumentName: 'Authorization' } }
    )
  }
  if (!presigned && !hasSigV4(req)) throw new S3Error('AccessDenied', 'The request is not signed with SigV4.')

  let auth: HeaderAuth | PresignedAuth
  let amzDate: string
  let payloadHash: string
  let sessionToken: string | undefined
  if (presigned) {
    const query = parsePresignedQuery(req.rawQuery, services)
    auth = query
    amzDate = query.amzDate
    checkPresignedTime(query, opts.now, maxSkewMs)
    // A presigned URL cannot know its body: S3 signs UNSIGNED-PAYLOAD unless the presigner fixed a
    // hash in X-Amz-Content-Sha256. (Other services sign the body hash, supplied by the caller.)
    const fallback = query.credential.service === 's3' ? undefined : opts.payloadSha256
    payloadHash = query.contentSha256 ?? fallback ?? UNSIGNED_PAYLOAD
    sessionToken = query.securityToken
  } else {
    const header = parseAuthorizationHeader(req.headers.get('authorization')!, services)
    auth = header
    const time = readRequestTime(req.headers)
    amzDate = time.amzDate
    if (header.credential.date !== amzDate.slice(0, 8)) {
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.'
      )
    }
    if (Math.abs(opts.now.getTime() - time.date.getTime()) > maxSkewMs) {
      throw new S3Error('RequestTimeTooSkewed', undefined, {
        fields: {
          RequestTime: time.raw,
          ServerTime: formatIsoSeconds(opts.now),
          MaxAllowedSkewMilliseconds: maxSkewMs,
        },
      })
    }
    // S3 requires the header with header auth; other services sign the body hash without sending it.
    const declared = req.headers.get('x-amz-content-sha256')?.trim()
    if (declared !== undefined) {
      payloadHash = declared
    } else if (header.credential.service !== 's3' && opts.payloadSha256 !== undefined) {
      payloadHash = opts.payloadSha256
    } else {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256')
    }
    sessionToken = req.headers.get('x-amz-security-token') ?? undefined
  }
  const payload = payloadModeOf(payloadHash)

  if (!auth.signedHeaders.includes('host')) throw notSigned(['host'])

  const credential = await opts.lookup(auth.credential.accessKeyId, sessionToken)
  if (!credential) {
    throw new S3Error('InvalidAccessKeyId', undefined, {
      fields: { AWSAccessKeyId: auth.credential.accessKeyId },
    })
  }
  const { date, region, service, scope } = auth.credential
  const cache = opts.signingKeyCache ?? defaultSigningKeyCache
  const key = await cache.get(
    opts.platform,
    auth.credential.accessKeyId,
    credential.secretAccessKey,
    date,
    region,
    service
  )

  const pathBytes = await findSignedPath(req, auth, {
    key,
    amzDate,
    scope,
    payloadHash,
    platform: opts.platform,
  })
  if (!pathBytes) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      fields: { AWSAccessKeyId: auth.credential.accessKeyId },
    })
  }

  // S3 refuses x-amz-* headers the client did not sign, so nothing can be added to a signed request
  // in transit (x-amz-content-sha256 is exempt: its value is the canonical request's last line).
  const signed = new Set(auth.signedHeaders)
  const unsigned: string[] = []
  for (const [name] of req.headers) {
    if (name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !signed.has(name)) unsigned.push(name)
  }
  if (unsigned.length > 0) throw notSigned(unsigned)

  // Keys are UTF-8; a path whose bytes are not cannot name one.
  const path = decodeUtf8(pathBytes)
  if (path === undefined) {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI: the key is not valid UTF-8.")
  }

  const verified: VerifiedRequest = {
    credential,
    path,
    payload,
    presigned,
    scope: auth.credential,
    signing: { key, amzDate, scope, seedSignature: auth.signature.toLowerCase() },
  }
  if (payload === 'sha256') verified.contentSha256 = payloadHash.toLowerCase()
  if (sessionToken !== undefined) verified.sessionToken = sessionToken
  return verified
}

function notSigned(names: string[]): S3Error {
  return new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
    fields: { HeadersNotSigned: names.join(', ') },
  })
}

/**
 * Presigned URLs are valid from X-Amz-Date for X-Amz-Expires seconds; the 15-minute skew only bounds
 * how far in the future X-Amz-Date may be.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
function checkPresignedTime(auth: PresignedAuth, now: Date, maxSkewMs: number): void {
  const signedAt = parseAmzDate(auth.amzDate)!
  if (auth.credential.date !== auth.amzDate.slice(0, 8)) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `Invalid credential date "${auth.credential.date}". This date is not the same as X-Amz-Date: ` +
        `"${auth.amzDate.slice(0, 8)}".`
    )
  }
  const expiresAt = new Date(signedAt.getTime() + auth.expiresSeconds * 1000)
  if (signedAt.getTime() - now.getTime() > maxSkewMs) {
    // S3 reports X-Amz-Date here in epoch milliseconds (unlike its other time fields); so do we.
    throw new S3Error('AccessDenied', 'Request is not yet valid', {
      fields: {
        'X-Amz-Date': signedAt.getTime(),
        Expires: formatIsoSeconds(expiresAt),
        ServerTime: formatIsoSeconds(now),
      },
    })
  }
  if (now.getTime() > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      fields: {
        'X-Amz-Expires': auth.expiresSeconds,
        Expires: formatIsoSeconds(expiresAt),
        ServerTime: formatIsoSeconds(now),
      },
    })
  }
}

interface SignatureInputs {
  key: Uint8Array
  amzDate: string
  scope: string
  payloadHash: string
  platform: Platform
}

/**
 * Tries the readings of the request that a correct client may have signed and returns the decoded path
 * of the first that verifies, or undefined. A '+' is first read literally; only when that fails is it
 * read as a space (s3cmd and aws4fetch send '+' for a space in the path but sign %20; form-style
 * query encoders do the same in the query). A request without '+' costs exactly one HMAC.
 */
async function findSignedPath(
  req: SigV4Request,
  auth: HeaderAuth | PresignedAuth,
  inputs: SignatureInputs
): Promise<Uint8Array | undefined> {
  const provided = auth.signature.length === 64 ? fromHex(auth.signature) : undefined
  if (!provided) return undefined
  const headers = canonicalHeaders(req.headers, auth.signedHeaders)
  const params = splitQuery(req.rawQuery)
  const omit = auth.kind === 'query' ? (name: string) => name === 'X-Amz-Signature' : undefined
  const pathReadings = req.rawPath.includes('+') ? [false, true] : [false]
  const queryReadings = req.rawQuery.includes('+') ? [false, true] : [false]
  for (const plusInPath of pathReadings) {
    const pathBytes = percentDecode(req.rawPath, plusInPath)
    const uri = canonicalUri(pathBytes)
    for (const plusInQuery of queryReadings) {
      const request = canonicalRequest({
        method: req.method,
        uri,
        query: canonicalQuery(params, plusInQuery, omit),
        headers,
        signedHeaders: auth.signedHeadersRaw,
        payloadHash: inputs.payloadHash,
      })
      const hash = toHex(await inputs.platform.sha256(signedBytes(request)))
      const mac = await inputs.platform.hmacSha256(
        inputs.key,
        stringToSign(ALGORITHM, inputs.amzDate, inputs.scope, hash)
      )
      if (inputs.platform.timingSafeEqual(mac, provided)) return pathBytes
    }
  }
  return undefined
}
