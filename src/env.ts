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
import type { AuditLog } from './audit.js'
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
}

export interface AppDeps {
  backend: Backend
  platform: Platform
  credentials: CredentialLookup
  /** HTTP Basic on the S3 paths; absent means refused like any unsupported scheme, without a challenge. */
  basic?: BasicAuthenticator
  /** STS AssumeRoleWithLDAPIdentity at `POST /`; absent means such requests are treated as S3 requests. */
  sts?: StsService
  /** The policies in force for an authenticated caller; none means it may do nothing. */
  policiesFor: (principal: Principal) => readonly Policy[]
  adapter: RuntimeAdapter
  audit: AuditLog
  /** The region this endpoint reports (GetBucketLocation, HeadBucket). */
  region: string
  /** Host suffixes for virtual-hosted-style requests (`bucket.<domain>`). */
  virtualHostDomains: string[]
  now?: () => Date
}
