/**
 * @module app
 * Composition of the S3 front end: locate → authenticate → resolve operation → authorize → verify
 * body → handler → response, with every failure rendered once as S3 error XML and one audit record per
 * request. Runtime-neutral: entries pass in a RuntimeAdapter and a Platform.
 */
import { Hono, type Context } from 'hono'
import { requiredAccess } from './auth/actions.js'
import { BasicAuthFailed, hasBasic, parseBasic } from './auth/basic.js'
import { evaluate } from './auth/policy.js'
import type { Principal } from './auth/principal.js'
import { toHex } from './auth/sigv4/bytes.js'
import { isPresigned, parseAuthorizationHeader, parsePresignedQuery } from './auth/sigv4/parse.js'
import {
  hasSigV4,
  verifyPayload,
  verifyRequest,
  type SigV4Request,
  type VerifiedRequest,
} from './auth/sigv4/verify.js'
import { RequestObservation, isIntegrityFailure, securityEventOf, type AuditRecord } from './audit.js'
import type { AppDeps, ConnectionInfo } from './env.js'
import { S3Error, isS3Error } from './s3/errors.js'
import type { Authorize, RequestBody, S3Call } from './s3/handlers/context.js'
import { validateBucketName } from './s3/names.js'
import { resolveOperation, type Operation } from './s3/operations.js'
import { decodePath, locate, splitTarget } from './s3/request.js'
import { renderS3Error } from './s3/responses.js'
import { handlerFor } from './s3/routes.js'
import { isStsRequest, stsEndpoint } from './sts-endpoint.js'

/** Reserved for operations endpoints: no bucket name can start with '-'. */
export const OPS_PREFIX = '/-/'

const BASIC_CHALLENGE = 'Basic realm="s3veil", charset="UTF-8"'

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  const now = deps.now ?? (() => new Date())
  const readyChecks = readinessChecks(deps)

  app.all('*', async function s3Gateway(c) {
    const started = performance.now()
    const requestId = toHex(deps.platform.randomBytes(8)).toUpperCase()
    const record: AuditRecord = {
      requestId,
      method: c.req.method,
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      client: deps.adapter.clientAddress(c),
    }
    const observation = new RequestObservation()
    let ops = false
    Object.assign(record, tlsFields(deps.adapter.connection?.(c)))
    let resource: string | undefined
    let response: Response
    try {
      const target = splitTarget(deps.adapter.rawTarget(c))
      if (target.rawPath.startsWith(OPS_PREFIX)) {
        ops = true
        response = await opsEndpoint(c, deps, target.rawPath, record, readyChecks)
      } else if (deps.sts && isSts(c, deps, target)) {
        const body = observation.countIn(deps.adapter.body(c))
        const request = { query: new URLSearchParams(target.rawQuery), body, client: record.client }
        response = await stsEndpoint(deps.sts, request, requestId, record, now())
      } else {
        const { call, resource: res } = await authenticate(c, deps, target, requestId, record, now(), observation)
        resource = res
        const backend = deps.backend.observe?.(observation) ?? deps.backend
        response = await handlerFor(call.operation)(call, { backend, region: deps.region })
      }
    } catch (err) {
      response = errorResponse(err, deps, requestId, c.req.method, resource, record)
      if (deps.basic && challenges(err)) response = challenge(response)
    }
    response.headers.set('x-amz-request-id', requestId)
    response.headers.set('x-amz-id-2', requestId)
    response.headers.set('server', 's3veil')
    record.status = response.status
    // Bodies not streamed through the observation are small (XML, errors): measured here, sent with a length.
    if (response.body !== null && !observation.streams()) {
      const bytes = new Uint8Array(await response.arrayBuffer())
      observation.bytesOut = bytes.byteLength
      response = new Response(bytes, { status: response.status, headers: response.headers })
    }
    // The record is written once the response body has ended (or was cut), with what was really sent.
    void observation.settled().then(() => {
      observation.fill(record)
      record.durationMs = Math.round(performance.now() - started)
      // Ops requests stay out of the request log and metrics, unless refused (a wrong metrics token).
      if (ops && record.securityEvent === undefined) {
        deps.audit.ops(record)
      } else {
        deps.audit.request(record)
        deps.metrics?.observe(record)
      }
    })
    return response
  })
  return app
}

/**
 * STS shares the S3 port, as with MinIO: a POST to the service root (never a bucket, path- or
 * virtual-hosted-style) that names an Action or sends a form. S3 has no operation there.
 */
function isSts(c: Context, deps: AppDeps, target: { rawPath: string; rawQuery: string }): boolean {
  const headers = c.req.raw.headers
  if (!isStsRequest(c.req.method, target.rawPath, new URLSearchParams(target.rawQuery), headers.get('content-type'))) return false
  return locate(decodePath(target.rawPath), headers.get('host'), deps.virtualHostDomains).bucket === undefined
}

/** Locates the request, verifies its signature, and builds the handler's call. */
async function authenticate(
  c: Context,
  deps: AppDeps,
  target: { rawPath: string; rawQuery: string },
  requestId: string,
  record: AuditRecord,
  at: Date,
  observation: RequestObservation
): Promise<{ call: S3Call; resource: string }> {
  const headers = c.req.raw.headers
  const sigReq: SigV4Request = { method: c.req.method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers }
  const query = new URLSearchParams(target.rawQuery)
  let location = locate(decodePath(target.rawPath), headers.get('host'), deps.virtualHostDomains)
  Object.assign(record, { bucket: location.bucket, key: location.key })
  // What the request asks for is known before who asks: a refused request's record names it too. (The
  // signature may change how the key reads, '+' or space, never whether there is one.)
  const resolved = resolveOperation(c.req.method, location.bucket, location.key, query, headers)
  if ('operation' in resolved) record.operation = resolved.operation
  let verified: VerifiedRequest
  let principal: Principal
  const certificate = certificatePrincipal(deps, deps.adapter.connection?.(c))
  if (hasSigV4(sigReq)) {
    try {
      verified = await verifyRequest(sigReq, { lookup: deps.credentials, platform: deps.platform, now: at })
    } catch (err) {
      // A refused signature's record still says how it was sent and which key it named.
      const presigned = isPresigned(sigReq)
      record.authMethod = presigned ? 'sigv4-presigned' : 'sigv4-header'
      record.accessKeyId = claimedAccessKeyId(sigReq, presigned)
      throw err
    }
    // The signature decides how an ambiguous path reads ('+' as plus or as space).
    location = locate(verified.path, headers.get('host'), deps.virtualHostDomains)
    principal = {
      ...(verified.credential.principal as Principal),
      method: verified.presigned ? 'sigv4-presigned' : 'sigv4-header',
    }
  } else if (certificate.principal && !certificate.requireSignature) {
    // Mutual TLS: a mapped certificate alone says who the caller is (for clients that cannot sign).
    principal = certificate.principal
    verified = unsignedBody(principal)
  } else if (deps.basic && hasBasic(headers)) {
    record.authMethod = 'basic'
    try {
      principal = await deps.basic.authenticate(parseBasic(headers), record.client)
    } catch (err) {
      // The authenticator's SlowDown is its failure throttle (the directory being down is ServiceUnavailable).
      if (isS3Error(err) && err.code === 'SlowDown') record.securityEvent = 'auth-throttled'
      throw err
    }
    verified = unsignedBody(principal)
  } else if (isSigV2(headers, query)) {
    // What S3 answers in regions that only take SigV4 (aws-cli v1's `s3 presign` still makes V2 URLs).
    throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.')
  } else if (certificate.requireSignature) {
    throw new S3Error('AccessDenied', 'A client certificate must come with a signed request.')
  } else {
    throw new AnonymousDenied()
  }
  Object.assign(record, {
    bucket: location.bucket,
    key: location.key,
    authMethod: principal.method,
    user: principal.user,
    groups: principal.groups,
    accessKeyId: principal.accessKeyId,
  })
  if (certificate.requireSignature && !sameUser(principal, certificate.principal)) {
    throw new S3Error('AccessDenied', "The request's credentials do not belong to the client certificate's user.")
  }
  if ('unsupported' in resolved) throw new S3Error('NotImplemented', `${resolved.unsupported} is not implemented by this gateway.`)
  if ('methodNotAllowed' in resolved) throw new S3Error('MethodNotAllowed')
  if (location.bucket !== undefined) validateBucketName(location.bucket)
  const authorize = authorizer(deps, principal, record)
  // Before the body is read: a denied upload must not cost us its bytes, as in S3.
  const access = requiredAccess(resolved.operation, location.bucket, location.key, query)
  if (access !== 'per-key' && !authorize(access.action, access.resource, access.context)) throw new S3Error('AccessDenied')
  const payload = verifyPayload(deps.adapter.body(c), verified, payloadView(resolved.operation, sigReq), deps.platform)
  const body: RequestBody = { body: observation.countIn(payload.body), contentLength: payload.contentLength, checksum: payload.checksum }
  const call: S3Call = {
    requestId,
    operation: resolved.operation,
    method: c.req.method,
    bucket: location.bucket,
    key: location.key,
    query,
    headers,
    body,
    principal,
    authorize,
    onResponseError: (err) => {
      // The record learns how the body ended from the body itself (RequestObservation.countOut).
      deps.audit.internalError(requestId, err)
      deps.adapter.abortResponse(c, err)
    },
    countOut: (source) => observation.countOut(source),
  }
  const resource = '/' + [location.bucket, location.key].filter((p) => p !== undefined).join('/')
  return { call, resource }
}

/**
 * What a client certificate on the connection means for authentication. Without mutual TLS, or
 * without a certificate on the connection, nothing. A certificate that does not chain to the client CA
 * (possible where certificates are optional) is refused outright rather than ignored. `requireSignature`
 * is set when the certificate demands that the request be signed by its own user.
 */
function certificatePrincipal(
  deps: AppDeps,
  connection: ConnectionInfo | undefined
): { principal?: Principal; requireSignature: boolean } {
  const mtls = deps.clientCertificates
  const subject = connection?.clientCertSubject
  if (!mtls || subject === undefined) return { requireSignature: false }
  if (!connection?.clientCertAuthorized) throw new S3Error('AccessDenied', 'The client certificate is not trusted.')
  return { principal: mtls.principalFor(subject), requireSignature: mtls.requireSignature }
}

/** The signer is the certificate's user: a local user of that name, not a directory user who shares it. */
function sameUser(principal: Principal, certificateUser: Principal | undefined): boolean {
  return certificateUser !== undefined && principal.directory === undefined && principal.user === certificateUser.user
}

/** The access key id a SigV4 request names (not yet verified); undefined when it does not parse. */
function claimedAccessKeyId(req: SigV4Request, presigned: boolean): string | undefined {
  try {
    const auth = presigned ? parsePresignedQuery(req.rawQuery) : parseAuthorizationHeader(req.headers.get('authorization') ?? '')
    const id = auth.credential.accessKeyId
    // Only what looks like a key id: the record is no place for arbitrary client text.
    return /^[A-Za-z0-9]{1,128}$/.test(id) ? id : undefined
  } catch {
    return undefined
  }
}

/** The audit record's view of the connection's TLS session. */
function tlsFields(connection: ConnectionInfo | undefined): Partial<AuditRecord> {
  if (!connection) return {}
  const fields: Partial<AuditRecord> = { tlsVersion: connection.tlsVersion, tlsCipher: connection.tlsCipher }
  if (connection.clientCertSubject !== undefined) {
    // The subject is what the certificate claims; whether it chains to the configured CA is the other half.
    fields.clientCert = connection.clientCertSubject
    fields.clientCertTrusted = connection.clientCertAuthorized === true
  }
  return fields
}

/**
 * What the body verifier needs for a Basic or certificate-only request: nothing signs its body, so it runs in SigV4's
 * UNSIGNED-PAYLOAD mode, which still checks Content-Length, Content-MD5 and x-amz-checksum-*. The
 * signing fields are only read by the aws-chunked modes, which this one never selects.
 */
function unsignedBody(principal: Principal): VerifiedRequest {
  return {
    credential: { accessKeyId: '', secretAccessKey: '', principal },
    path: '',
    payload: 'unsigned',
    presigned: false,
    scope: { accessKeyId: '', date: '', region: '', service: 's3', scope: '' },
    signing: { key: new Uint8Array(0), amzDate: '', scope: '', seedSignature: '' },
  }
}

/**
 * Where Basic is enabled, an anonymous request or failed Basic credentials get a 401 challenge (RFC
 * 9110 11.6.1) so browsers and curl --anyauth know to send credentials; a denial by policy, or any
 * request signed with SigV4, keeps S3's 403.
 */
function challenges(err: unknown): boolean {
  return err instanceof BasicAuthFailed || err instanceof AnonymousDenied
}

/** A request with no credentials of a scheme the gateway takes. */
class AnonymousDenied extends S3Error {
  constructor() {
    super('AccessDenied', 'Anonymous access is not allowed.')
  }
}

function challenge(response: Response): Response {
  const headers = new Headers(response.headers)
  headers.set('www-authenticate', BASIC_CHALLENGE)
  return new Response(response.body, { status: 401, headers })
}

/**
 * The caller's policy check. Every denial marks the audit record as a policy event, including
 * per-key denials inside a DeleteObjects that itself succeeds, so the log shows what was refused.
 */
function authorizer(deps: AppDeps, principal: Principal, record: AuditRecord): Authorize {
  const policies = deps.policiesFor(principal)
  const session = principal.sessionPolicy
  return (action, resource, context) => {
    const request = { action, resource, context }
    // A session policy narrows, never widens: both it and the user's policies must allow.
    if (evaluate(policies, request) === 'allow' && (!session || evaluate([session], request) === 'allow')) return true
    record.securityEvent = 'policy-denied'
    return false
  }
}

/**
 * The request as the body verifier sees it. On CompleteMultipartUpload the x-amz-checksum-* headers
 * describe the assembled object, not the XML body, so they are not checked against the body.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 */
function payloadView(operation: Operation, req: SigV4Request): SigV4Request {
  if (operation !== 'CompleteMultipartUpload') return req
  const headers = new Headers()
  req.headers.forEach((value, name) => {
    if (!name.startsWith('x-amz-checksum-')) headers.set(name, value)
  })
  return { ...req, headers }
}

/** Signature Version 2: `Authorization: AWS AK:sig` or a presigned `?AWSAccessKeyId=…&Signature=…`. */
function isSigV2(headers: Headers, query: URLSearchParams): boolean {
  return /^AWS [^:\s]+:/.test(headers.get('authorization') ?? '') || (query.has('AWSAccessKeyId') && query.has('Signature'))
}

function errorResponse(err: unknown, deps: AppDeps, requestId: string, method: string, resource: string | undefined, record: AuditRecord): Response {
  let s3err: S3Error
  if (isS3Error(err)) {
    s3err = err
  } else {
    deps.audit.internalError(requestId, err)
    s3err = new S3Error('InternalError')
  }
  record.errorCode = s3err.code
  // A policy denial is already marked as such; other AccessDenied are authentication failures.
  record.securityEvent ??= isIntegrityFailure(err) ? 'integrity-failure' : securityEventOf(s3err.code)
  return renderS3Error(s3err, { requestId, resource, method })
}

/** How long a readiness check may take before it counts as failed. */
const READY_TIMEOUT_MS = 5000

/**
 * The operations endpoints under /-/ (no bucket name starts with '-'): liveness, readiness and
 * metrics. No S3 authentication; /-/metrics takes a bearer token when one is configured.
 */
async function opsEndpoint(
  c: Context,
  deps: AppDeps,
  path: string,
  record: AuditRecord,
  checks: () => Promise<CheckResults>
): Promise<Response> {
  const name = path.slice(OPS_PREFIX.length)
  record.operation = `ops:${name}`
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new S3Error('MethodNotAllowed')
  if (name === 'healthz') return new Response('ok\n', { status: 200, headers: { 'content-type': 'text/plain' } })
  if (name === 'readyz') return readiness(deps, checks)
  if (name === 'metrics' && deps.metrics) {
    const token = deps.ops?.metricsToken
    if (token !== undefined && !bearerMatches(deps, c.req.header('authorization'), token)) {
      record.securityEvent = 'auth-failure'
      return new Response('unauthorized\n', {
        status: 401,
        headers: { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="s3veil-metrics"' },
      })
    }
    const { contentType, body } = await deps.metrics.render()
    return new Response(body, { status: 200, headers: { 'content-type': contentType } })
  }
  throw new S3Error('NotImplemented', 'Unknown operations endpoint.')
}

function bearerMatches(deps: AppDeps, header: string | undefined, token: string): boolean {
  const sent = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
  if (sent === undefined) return false
  const encoder = new TextEncoder()
  return deps.platform.timingSafeEqual(encoder.encode(sent), encoder.encode(token))
}

/**
 * 200 when the storage (and every other configured dependency, e.g. LDAP) answers; 503 naming the
 * ones that did not, by the S3 error code they failed with, and 503 while shutting down.
 */
async function readiness(deps: AppDeps, checks: () => Promise<CheckResults>): Promise<Response> {
  const results = await checks()
  const draining = deps.ops?.draining?.() ?? false
  const ready = !draining && results.every(([, result]) => result === 'ok')
  const body = { status: draining ? 'draining' : ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) }
  return new Response(JSON.stringify(body) + '\n', { status: ready ? 200 : 503, headers: { 'content-type': 'application/json' } })
}

type CheckResults = (readonly [name: string, result: string])[]

/** How long one round of readiness checks answers for: probes, however frequent, cost one upstream call a second. */
const READY_REUSE_MS = 1000

/** The readiness checks, run at most once per READY_REUSE_MS (concurrent probes share a round). */
function readinessChecks(deps: AppDeps): () => Promise<CheckResults> {
  const checks: Record<string, () => Promise<void>> = {}
  if (deps.backend.check) checks.storage = () => deps.backend.check!()
  Object.assign(checks, deps.ops?.checks)
  let last: { at: number; results: Promise<CheckResults> } | undefined
  return () => {
    const now = Date.now()
    if (!last || now - last.at >= READY_REUSE_MS) {
      last = { at: now, results: Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await outcome(check)] as const)) }
    }
    return last.results
  }
}

/** 'ok', or why not: an S3 error code (never a message, which could name internal hosts), or 'Timeout'. */
async function outcome(check: () => Promise<void>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<string>((done) => (timer = setTimeout(() => done('Timeout'), READY_TIMEOUT_MS)))
  try {
    return await Promise.race([check().then(() => 'ok', (err: unknown) => (isS3Error(err) ? err.code : 'InternalError')), timeout])
  } finally {
    clearTimeout(timer)
  }
}
