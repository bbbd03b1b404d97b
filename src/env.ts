/**
 * @module env
 * What the app is built from. Each runtime entry (node.ts, later worker.ts) constructs these and
 * passes them to `createApp`; nothing below reads process.env or imports node:*.
 */
import type { Context } from 'hono'
import type { BasicAuthenticator } from './auth/basic.js'
import type { Policy } from './auth/policy.js'
import type { Principal } from './auth/principal.js'
import type { CredentialLookup } from './auth/sigv4/verify.js'
import type { Backend } from './backend/types.js'
import type { AuditLog, Metrics } from './audit.js'
import type { ByteSource, Platform } from './platform/types.js'
import type { StsService } from './sts-endpoint.js'

/** Per-runtime access to what the web Request does not expose faithfully or fast enough. */
export interface RuntimeAdapter {
  /** The request target exactly as sent (`/path?query`): web URLs normalize '..' segments. */
  rawTarget(c: Context): string
  /** The request body as bytes (on Node the raw IncomingMessage, twice as fast as request.body). */
  body(c: Context): ByteSource
  clientAddress(c: Context): string | undefined
  /** Aborts the connection when a response body fails after the headers were sent. */
  abortResponse(c: Context, err: unknown): void
  /** The TLS facts of the request's connection; undefined for plain HTTP (or a runtime that cannot tell). */
  connection?(c: Context): ConnectionInfo | undefined
}

/** What the TLS session of a connection says; secrets never (no keys, no raw certificates). */
export interface ConnectionInfo {
  tlsVersion?: string
  tlsCipher?: string
  /** The client certificate's subject, `CN=alice,O=Example`, when one was presented. */
  clientCertSubject?: string
  /** Whether that certificate chains to the configured client CA. */
  clientCertAuthorized?: boolean
}

/** Mutual TLS: who a trusted client certificate stands for. */
export interface ClientCertificateAuth {
  /** The user a subject is mapped to (with their groups); undefined when it is not mapped. */
  principalFor(subject: string): Principal | undefined
  /** A certificate alone identifies no one: the request must also be signed, by the certificate's user. */
  requireSignature: boolean
}

export interface AppDeps {
  backend: Backend
  platform: Platform
  credentials: CredentialLookup
  /** HTTP Basic on the S3 paths; absent means refused like any unsupported scheme, without a challenge. */
  basic?: BasicAuthenticator
  /** Mutual TLS on the HTTPS listener; absent when no client certificates are configured. */
  clientCertificates?: ClientCertificateAuth
  /** STS AssumeRoleWithLDAPIdentity at `POST /`; absent means such requests are treated as S3 requests. */
  sts?: StsService
  /** The policies in force for an authenticated caller; none means it may do nothing. */
  policiesFor: (principal: Principal) => readonly Policy[]
  adapter: RuntimeAdapter
  audit: AuditLog
  /** Request metrics, fed the audit records, served at /-/metrics; absent: no metrics endpoint. */
  metrics?: Metrics
  /** The operations endpoints' inputs (src/app.ts opsEndpoint). */
  ops?: OpsDeps
  /** The region this endpoint reports (GetBucketLocation, HeadBucket). */
  region: string
  /** Host suffixes for virtual-hosted-style requests (`bucket.<domain>`). */
  virtualHostDomains: string[]
  now?: () => Date
}

export interface OpsDeps {
  /** Readiness checks besides the storage's (which is `backend.check`), by name: e.g. `ldap`. */
  checks?: Record<string, () => Promise<void>>
  /** True while shutting down: readiness answers 503 so load balancers stop sending requests. */
  draining?: () => boolean
  /** When set, /-/metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string
}
