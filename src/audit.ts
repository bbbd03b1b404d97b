/**
 * @module audit
 * One structured record per request. The logger is injected (pino on Node); records carry
 * identities and outcomes, never secrets, signatures or bodies. `RequestObservation` is what the
 * layers under the app (body readers, the encrypting backend, the upstream) fill in for one request.
 */
import type { BackendObserver } from './backend/types.js'
import { IntegrityError, MissingEnvelopeError } from './crypto/errors.js'
import type { ByteSource } from './platform/types.js'
import { isS3Error } from './s3/errors.js'

export interface AuditRecord {
  requestId: string
  method: string
  operation?: string
  bucket?: string
  key?: string
  client?: string
  /** The TLS session (HTTPS listener only): protocol version, cipher suite, client certificate subject. */
  tlsVersion?: string
  tlsCipher?: string
  clientCert?: string
  /** Whether the client certificate chains to the configured client CA (false: its subject is only a claim). */
  clientCertTrusted?: boolean
  authMethod?: string
  user?: string
  groups?: string[]
  accessKeyId?: string
  status: number
  errorCode?: string
  /** Request payload bytes read (after aws-chunked decoding); 0 when the body was not read. */
  bytesIn: number
  /** Response body bytes sent. */
  bytesOut: number
  /** The body was stored encrypted, under this master key id (the data key is wrapped by it). */
  encryptedWith?: string
  /** The body was decrypted for the client, with a data key wrapped by this master key id. */
  decryptedWith?: string
  /** The last upstream HTTP status (S3 upstream only); 0 when the upstream gave no answer. */
  upstreamStatus?: number
  /** Time spent waiting for upstream calls (S3 upstream only). */
  upstreamMs?: number
  upstreamCalls?: number
  /** Upstream calls that failed (an error status or no answer). */
  upstreamErrors?: number
  /** Why the last failed upstream call failed: a Node or TLS error code, or the upstream's 5xx S3 code. */
  upstreamError?: string
  durationMs: number
  /** A security-relevant failure (authentication, authorization, integrity) worth alerting on. */
  securityEvent?: SecurityEvent
}

/**
 * What `securityEvent` can say:
 * - auth-failure: unknown key, bad signature, skewed clock, wrong password, anonymous refused;
 * - token-invalid: an STS session token that is expired, tampered with or sealed by another key;
 * - policy-denied: an authenticated caller refused by policy;
 * - auth-throttled: too many failed passwords (HTTP Basic or STS);
 * - integrity-failure: a stored object failed its integrity check or was not written by this gateway.
 */
export type SecurityEvent = 'auth-failure' | 'token-invalid' | 'policy-denied' | 'auth-throttled' | 'integrity-failure'

export interface AuditLog {
  request(record: AuditRecord): void
  /** A request to an operations endpoint (/-/…): kept out of the way of the request log (debug on Node). */
  ops(record: AuditRecord): void
  /** An unexpected internal failure: logged with the error, never shown to the client. */
  internalError(requestId: string, err: unknown): void
}

/** Metrics built from audit records; the Node entry implements it with prom-client (metrics-node.ts). */
export interface Metrics {
  observe(record: AuditRecord): void
  /** A security event outside any request (a failed TLS handshake has no request, hence no record). */
  countSecurityEvent(reason: 'tls-handshake-failed'): void
  render(): Promise<{ contentType: string; body: string }>
}

export const SECURITY_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'RequestTimeTooSkewed',
  'XAmzContentSHA256Mismatch',
  'ExpiredToken',
  'InvalidToken',
])

/** The security event an S3 error code stands for, when it is one. */
export function securityEventOf(code: string): SecurityEvent | undefined {
  if (code === 'ExpiredToken' || code === 'InvalidToken') return 'token-invalid'
  return SECURITY_CODES.has(code) ? 'auth-failure' : undefined
}

/**
 * Per-request counters and facts, filled in as the request runs and copied into its record once
 * the response body has ended (or was cut). Counting wraps the byte iterators: no copies, no buffering.
 */
export class RequestObservation implements BackendObserver {
  bytesIn = 0
  bytesOut = 0
  encryptedWith?: string
  decryptedWith?: string
  upstreamStatus?: number
  upstreamMs = 0
  upstreamCalls = 0
  upstreamErrors = 0
  upstreamError?: string
  /** Why a streamed response body failed after its status went out. */
  private bodyError?: { error: unknown }
  private streaming?: Promise<void>

  encrypted(keyId: string): void {
    this.encryptedWith = keyId
  }

  decrypted(keyId: string): void {
    this.decryptedWith = keyId
  }

  upstream(status: number | undefined, ms: number, failure?: string): void {
    this.upstreamCalls++
    this.upstreamMs += ms
    this.upstreamStatus = status ?? 0
    if (failure !== undefined) {
      this.upstreamErrors++
      this.upstreamError = failure
    }
  }

  /** The request body, counted as it is read. */
  countIn(source: ByteSource): ByteSource {
    return counted(source, (n) => (this.bytesIn += n))
  }

  /** A response body, counted as it is sent; the record waits for its end (see `settled`). */
  countOut(source: ByteSource): ByteSource {
    let finish!: () => void
    this.streaming = new Promise((done) => (finish = done))
    return counted(
      source,
      (n) => (this.bytesOut += n),
      (error) => {
        if (error !== undefined) this.bodyError = { error }
        finish()
      }
    )
  }

  /** Whether the response body streams through `countOut`. */
  streams(): boolean {
    return this.streaming !== undefined
  }

  /** Resolves once a streamed response body has ended, failed or been abandoned (at once when none). */
  settled(): Promise<void> {
    return this.streaming ?? Promise.resolve()
  }

  /** The observed facts as record fields (upstream ones only when there was an upstream call). */
  fill(record: AuditRecord): void {
    record.bytesIn = this.bytesIn
    record.bytesOut = this.bytesOut
    if (this.encryptedWith !== undefined) record.encryptedWith = this.encryptedWith
    if (this.decryptedWith !== undefined) record.decryptedWith = this.decryptedWith
    if (this.upstreamCalls > 0) {
      record.upstreamStatus = this.upstreamStatus
      record.upstreamMs = Math.round(this.upstreamMs)
      record.upstreamCalls = this.upstreamCalls
      record.upstreamErrors = this.upstreamErrors
      if (this.upstreamError !== undefined) record.upstreamError = this.upstreamError
    }
    if (this.bodyError) {
      const { error } = this.bodyError
      record.errorCode = isS3Error(error) ? error.code : 'InternalError'
      if (isIntegrityFailure(error)) record.securityEvent = 'integrity-failure'
    }
  }
}

/** A crypto failure on read that means the stored object is not what this gateway wrote. */
export function isIntegrityFailure(err: unknown): boolean {
  const cause = isS3Error(err) ? err.cause : err
  return cause instanceof IntegrityError || cause instanceof MissingEnvelopeError
}

/** Passes `source` through, reporting each chunk's size, and `end` once: done, returned early, or failed (with the error). */
function counted(source: ByteSource, add: (n: number) => void, end?: (error?: unknown) => void): ByteSource {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const iterator = source[Symbol.asyncIterator]()
      let ended = false
      const finish = (error?: unknown) => {
        if (!ended) {
          ended = true
          end?.(error)
        }
      }
      return {
        async next() {
          try {
            const next = await iterator.next()
            if (next.done) finish()
            else add(next.value.byteLength)
            return next
          } catch (err) {
            finish(err)
            throw err
          }
        },
        async return(value?: unknown) {
          try {
            return (await iterator.return?.(value)) ?? { done: true, value: undefined }
          } finally {
            finish()
          }
        },
      }
    },
  }
}

/**
 * What an error looks like in the log: its name, message, code, stack and causes, nothing else. pino's
 * default would dump every property, and an AWS SDK error carries `$metadata`/`$response` (the
 * signed request's headers among them).
 */
export function safeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err, message: typeof err === 'string' ? err : 'non-Error value thrown' }
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack }
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' || typeof code === 'number') out.code = code
  if (err.cause !== undefined && depth < 3) out.cause = safeError(err.cause, depth + 1)
  return out
}
