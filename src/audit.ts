/**
 * @module audit
 * One structured record per request. The logger is injected (pino on Node); records carry
 * identities and outcomes, never secrets, signatures or bodies.
 */
export interface AuditRecord {
  requestId: string
  method: string
  operation?: string
  bucket?: string
  key?: string
  client?: string
  authMethod?: string
  user?: string
  accessKeyId?: string
  status: number
  errorCode?: string
  durationMs: number
  /** A security-relevant failure (authentication, integrity) worth alerting on. */
  securityEvent?: string
}

export interface AuditLog {
  request(record: AuditRecord): void
  /** An unexpected internal failure: logged with the error, never shown to the client. */
  internalError(requestId: string, err: unknown): void
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
