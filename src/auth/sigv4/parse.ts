/**
 * @module auth/sigv4/parse
 * Reading the SigV4 parameters of a request: the `Authorization` header
 * (`AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`)
 * or the presigned-URL query parameters (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Security-Token), and the request timestamp. Only the
 * syntax is checked here; verify.ts applies the rules that need the clock or the credential.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
import { S3Error } from '../../s3/errors.js'
import { decodeQuery } from './canonical.js'
import { SCOPE_TERMINATOR } from './signing-key.js'

export const ALGORITHM = 'AWS4-HMAC-SHA256'

/** Longest presigned lifetime S3 accepts: seven days. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604800

/** The request shape this module reads (see verify.ts for the full contract). */
export interface SigV4Request {
  method: string
  /** Path exactly as sent on the request line, still percent-encoded, without the query. */
  rawPath: string
  /** Query exactly as sent, without '?'; may be ''. */
  rawQuery: string
  headers: Headers
}

/** The Credential element: access key and the scope `date/region/service/aws4_request`. */
export interface CredentialScope {
  accessKeyId: string
  date: string
  region: string
  service: string
  /** `date/region/service/aws4_request`, as it appears in the string to sign. */
  scope: string
}

interface AuthParams {
  credential: CredentialScope
  /** SignedHeaders exactly as sent (it goes into the canonical request verbatim). */
  signedHeadersRaw: string
  /** Lowercased header names from SignedHeaders, in the order sent. */
  signedHeaders: string[]
  /** Signature as sent (normally 64 lowercase hex digits). */
  signature: string
}

export interface HeaderAuth extends AuthParams {
  kind: 'header'
}

export interface PresignedAuth extends AuthParams {
  kind: 'query'
  /** X-Amz-Date as sent. */
  amzDate: string
  expiresSeconds: number
  securityToken?: string
  /** X-Amz-Content-Sha256 from the query, when the presigner fixed the payload. */
  contentSha256?: string
}

/** True when the request carries SigV4 credentials in the Authorization header or the query. */
export function hasSigV4(req: SigV4Request): boolean {
  const authorization = req.headers.get('authorization')
  if (authorization !== null && authorization.trimStart().startsWith(ALGORITHM)) return true
  return hasQueryAlgorithm(req.rawQuery)
}

function hasQueryAlgorithm(rawQuery: string): boolean {
  if (!rawQuery.includes('X-Amz-Algorithm')) return false
  return decodeQuery(rawQuery).some((p) => p.name === 'X-Amz-Algorithm')
}

/** True when the query names X-Amz-Algorithm (a presigned request). */
export function isPresigned(req: SigV4Request): boolean {
  return hasQueryAlgorithm(req.rawQuery)
}

function headerMalformed(detail: string): S3Error {
  return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`)
}

function queryMalformed(message: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', message)
}

const CREDENTIAL_FORM =
  'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'

/**
 * Parses `Credential=` content. S3 spells out which part is wrong; we do the same for the parts that
 * carry no secret. `services` lists the accepted service names (normally just 's3').
 */
export function parseCredential(
  value: string,
  services: readonly string[],
  fail: (detail: string) => S3Error
): CredentialScope {
  const parts = value.split('/')
  if (parts.length < 5) throw fail(CREDENTIAL_FORM)
  // Access key ids never contain '/', but take everything before the four scope parts to be safe.
  const [date, region, service, terminator] = parts.slice(-4) as [string, string, string, string]
  const accessKeyId = parts.slice(0, -4).join('/')
  if (accessKeyId === '' || region === '') throw fail(CREDENTIAL_FORM)
  if (!/^\d{8}$/.test(date) || parseAmzDate(date + 'T000000Z') === undefined) {
    throw fail(
      `incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`
    )
  }
  if (!services.includes(service)) {
    throw fail(`incorrect service "${service}". This endpoint belongs to "${services[0] ?? 's3'}".`)
  }
  if (terminator !== SCOPE_TERMINATOR) {
    throw fail(`incorrect terminal "${terminator}". This endpoint uses "${SCOPE_TERMINATOR}".`)
  }
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/${SCOPE_TERMINATOR}` }
}

function parseSignedHeaders(raw: string, fail: () => S3Error): string[] {
  if (raw === '') throw fail()
  const names = raw.split(';').map((name) => name.toLowerCase())
  if (names.some((name) => name === '' || !/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name))) throw fail()
  return names
}

/**
 * Parses an Authorization header value. The three components may be separated by commas, spaces or
 * both, in any order, as clients differ here.
 */
export function parseAuthorizationHeader(value: string, services: readonly string[] = ['s3']): HeaderAuth {
  const text = value.trim()
  if (
    !text.startsWith(ALGORITHM) ||
    (text.length > ALGORITHM.length && !/[\s,]/.test(text[ALGORITHM.length]!))
  ) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; unsupported algorithm.'
    )
  }
  const fields = new Map<string, string>()
  for (const token of text.slice(ALGORITHM.length).split(/[\s,]+/)) {
    if (token === '') continue
    const eq = token.indexOf('=')
    const key = eq < 0 ? token : token.slice(0, eq)
    if (eq < 0 || fields.has(key) || !['Credential', 'SignedHeaders', 'Signature'].includes(key)) {
      throw headerMalformed(`the authorization component "${token}" is malformed.`)
    }
    fields.set(key, token.slice(eq + 1))
  }
  const credential = fields.get('Credential')
  const signedHeadersRaw = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined || signedHeadersRaw === undefined || signature === undefined) {
    throw headerMalformed(
      'the authorization header requires three components: Credential, SignedHeaders, and Signature.'
    )
  }
  return {
    kind: 'header',
    credential: parseCredential(credential, services, headerMalformed),
    signedHeadersRaw,
    signedHeaders: parseSignedHeaders(signedHeadersRaw, () =>
      headerMalformed('the SignedHeaders component is malformed.')
    ),
    signature,
  }
}

const REQUIRED_QUERY = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
]

/** Parses the presigned-URL parameters of a raw query. */
export function parsePresignedQuery(rawQuery: string, services: readonly string[] = ['s3']): PresignedAuth {
  const params = new Map<string, string>()
  // The first occurrence wins, as for any repeated query parameter.
  for (const { name, value } of decodeQuery(rawQuery)) if (!params.has(name)) params.set(name, value)
  if (REQUIRED_QUERY.some((name) => !params.has(name))) {
    throw queryMalformed(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, ' +
        'X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.'
    )
  }
  if (params.get('X-Amz-Algorithm') !== ALGORITHM) {
    throw queryMalformed(`X-Amz-Algorithm only supports "${ALGORITHM}"`)
  }
  const credential = parseCredential(params.get('X-Amz-Credential')!, services, (detail) =>
    queryMalformed(`Error parsing the X-Amz-Credential parameter; ${detail}`)
  )
  const amzDate = params.get('X-Amz-Date')!
  if (parseAmzDate(amzDate) === undefined) {
    throw queryMalformed(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
  }
  const expires = params.get('X-Amz-Expires')!
  if (!/^\d{1,7}$/.test(expires) || Number(expires) < 1) {
    throw queryMalformed('X-Amz-Expires must be a positive integer number of seconds')
  }
  if (Number(expires) > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw queryMalformed(
      `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_EXPIRES_SECONDS}`
    )
  }
  const signedHeadersRaw = params.get('X-Amz-SignedHeaders')!
  const auth: PresignedAuth = {
    kind: 'query',
    credential,
    signedHeadersRaw,
    signedHeaders: parseSignedHeaders(signedHeadersRaw, () =>
      queryMalformed('Error parsing the X-Amz-SignedHeaders parameter.')
    ),
    signature: params.get('X-Amz-Signature')!,
    amzDate,
    expiresSeconds: Number(expires),
  }
  const token = params.get('X-Amz-Security-Token')
  if (token !== undefined) auth.securityToken = token
  const contentSha256 = params.get('X-Amz-Content-Sha256')
  if (contentSha256 !== undefined) auth.contentSha256 = contentSha256
  return auth
}

/**
 * Parses an ISO 8601 basic timestamp `yyyyMMddTHHmmssZ` (the X-Amz-Date form); undefined when malformed
 * or not a real calendar time.
 */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  if (
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    return undefined
  }
  return date
}

/** Formats a time as `yyyyMMddTHHmmssZ`. */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '')
}

/** ISO 8601 without milliseconds, the form S3 uses for ServerTime and Expires in error bodies. */
export function formatIsoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export interface RequestTime {
  /** The timestamp of the string to sign, `yyyyMMddTHHmmssZ`. */
  amzDate: string
  date: Date
  /** The header value as sent (S3 echoes it as RequestTime). */
  raw: string
}

/**
 * The request time of a header-signed request: X-Amz-Date when present, else the HTTP Date header.
 * S3 answers AccessDenied when neither is usable.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonRequestHeaders.html
 */
export function readRequestTime(headers: Headers): RequestTime {
  const amz = headers.get('x-amz-date')
  if (amz !== null) {
    const date = parseAmzDate(amz.trim())
    if (date) return { amzDate: amz.trim(), date, raw: amz }
    throw missingDate()
  }
  const http = headers.get('date')
  if (http !== null) {
    const ms = Date.parse(http)
    // Date.parse accepts many shapes; require a GMT/UTC zone so a local-time string is never misread.
    if (!Number.isNaN(ms) && /\b(GMT|UTC|Z)\b|[+-]0000$/.test(http.trim())) {
      const date = new Date(ms)
      return { amzDate: formatAmzDate(date), date, raw: http }
    }
  }
  throw missingDate()
}

function missingDate(): S3Error {
  return new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
}
