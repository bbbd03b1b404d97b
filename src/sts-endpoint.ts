/**
 * @module sts-endpoint
 * The STS query-protocol endpoint for AssumeRoleWithLDAPIdentity, as MinIO offers it: `POST /` with
 * a form-encoded body (or query) naming the Action, LDAP user name and password, an optional
 * DurationSeconds and session Policy. Unsigned: the LDAP bind (with Basic's failure throttling) is
 * the authentication. Answers STS XML, and STS error XML (`ErrorResponse`), not S3's.
 * @see https://min.io/docs/minio/linux/developers/security-token-service/AssumeRoleWithLDAPIdentity.html
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
 */
import type { AuditRecord } from './audit.js'
import type { BasicAuthenticator } from './auth/basic.js'
import { PolicyError } from './auth/policy.js'
import { parseSessionPolicy, type StsCodec } from './auth/sts.js'
import { readBoundedText } from './platform/body.js'
import type { ByteSource } from './platform/types.js'
import { isS3Error } from './s3/errors.js'
import { renderXml } from './s3/xml.js'

export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/'
const ACTION = 'AssumeRoleWithLDAPIdentity'
const VERSION = '2011-06-15'
/** AWS's bounds for role sessions; MinIO defaults to the same hour. */
const MIN_DURATION = 900
const MAX_DURATION = 43200
const DEFAULT_DURATION = 3600
/** AWS's limit on a session policy's plain text. */
const MAX_POLICY_CHARS = 2048
/** A form with a user name, password and policy fits easily; more is not an STS request. */
const MAX_BODY_BYTES = 16 * 1024

export interface StsService {
  codec: StsCodec
  /** LDAP only (never local users), throttled like Basic. */
  login: BasicAuthenticator
}

/** An STS failure: code, HTTP status, and who is at fault (Sender or Receiver, as in STS's XML). */
export class StsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string
  ) {
    super(message)
    this.name = 'StsError'
  }
}

/** Whether a request to the service root is an STS call: an `Action` in the query or a form body. */
export function isStsRequest(method: string, rawPath: string, query: URLSearchParams, contentType: string | null): boolean {
  if (method !== 'POST' || rawPath !== '/') return false
  return query.has('Action') || /^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')
}

async function readForm(body: ByteSource): Promise<URLSearchParams> {
  const tooLarge = () => new StsError('InvalidParameterValue', 400, 'The request body is too large.')
  return new URLSearchParams(await readBoundedText(body, MAX_BODY_BYTES, tooLarge))
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name)
  if (value === null || value === '') throw new StsError('MissingParameter', 400, `The request must contain the parameter ${name}.`)
  return value
}

/**
 * Answers one STS request; every outcome is a Response (errors as STS XML). The audit record gets
 * the operation, the user, and for a refused bind the security event.
 */
export async function stsEndpoint(
  service: StsService,
  request: { query: URLSearchParams; body: ByteSource; client: string | undefined },
  requestId: string,
  record: AuditRecord,
  now: Date
): Promise<Response> {
  try {
    // Body parameters and query parameters together, as the STS query protocol allows either.
    const params = await readForm(request.body)
    for (const [name, value] of request.query) if (!params.has(name)) params.set(name, value)
    const action = required(params, 'Action')
    record.operation = action
    if (action !== ACTION) throw new StsError('InvalidAction', 400, `Could not find operation ${action} for version ${VERSION}.`)
    if (params.get('Version') !== VERSION) throw new StsError('InvalidParameterValue', 400, `Version must be ${VERSION}.`)
    const username = required(params, 'LDAPUsername')
    const password = required(params, 'LDAPPassword')
    let duration = DEFAULT_DURATION
    const durationText = params.get('DurationSeconds')
    if (durationText !== null) {
      duration = /^\d{1,6}$/.test(durationText) ? Number(durationText) : NaN
      if (!(duration >= MIN_DURATION && duration <= MAX_DURATION)) {
        throw new StsError('InvalidParameterValue', 400, `DurationSeconds must be between ${MIN_DURATION} and ${MAX_DURATION}.`)
      }
    }
    const policy = params.get('Policy') ?? undefined
    if (policy !== undefined) {
      if (policy.length > MAX_POLICY_CHARS) throw new StsError('PackedPolicyTooLarge', 400, 'The session policy is too large.')
      try {
        parseSessionPolicy(policy)
      } catch (err) {
        if (err instanceof PolicyError) throw new StsError('MalformedPolicyDocument', 400, `${err.path}: ${err.problem}`)
        throw err
      }
    }
    record.user = username
    record.authMethod = 'ldap'
    const principal = await service.login.authenticate({ username, password }, request.client)
    const creds = await service.codec.issue({
      user: principal.user,
      groups: principal.groups,
      policy,
      expiresAt: now.getTime() + duration * 1000,
    })
    record.accessKeyId = creds.accessKeyId
    const xml = renderXml(
      `${ACTION}Response`,
      {
        $: { xmlns: STS_XMLNS },
        [`${ACTION}Result`]: {
          Credentials: {
            AccessKeyId: creds.accessKeyId,
            SecretAccessKey: creds.secretAccessKey,
            SessionToken: creds.sessionToken,
            Expiration: creds.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
          },
        },
        ResponseMetadata: { RequestId: requestId },
      },
      false
    )
    return new Response(xml, { status: 200, headers: { 'content-type': 'text/xml' } })
  } catch (err) {
    let sts: StsError
    if (err instanceof StsError) {
      sts = err
    } else if (isS3Error(err)) {
      // From the login: AccessDenied (bad bind), SlowDown (throttled), ServiceUnavailable (LDAP down).
      sts = new StsError(err.code, err.status, err.code === 'AccessDenied' ? 'Access denied: invalid LDAP credentials.' : err.message)
    } else {
      throw err
    }
    record.errorCode = sts.code
    if (sts.code === 'AccessDenied') record.securityEvent = 'auth-failure'
    else if (sts.code === 'SlowDown') record.securityEvent = 'auth-throttled'
    return stsError(sts, requestId)
  }
}

function stsError(err: StsError, requestId: string): Response {
  const xml = renderXml(
    'ErrorResponse',
    {
      $: { xmlns: STS_XMLNS },
      Error: { Type: err.status >= 500 ? 'Receiver' : 'Sender', Code: err.code, Message: err.message },
      RequestId: requestId,
    },
    false
  )
  return new Response(xml, { status: err.status, headers: { 'content-type': 'text/xml' } })
}
