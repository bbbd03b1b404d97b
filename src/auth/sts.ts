/**
 * @module auth/sts
 * Self-contained session tokens for temporary credentials (STS AssumeRoleWithLDAPIdentity). A token
 * is the AES-256-GCM sealing of who the session is for (user, LDAP groups, session policy), when it
 * expires and its access key id, under a key every gateway instance shares; the temporary secret is
 * an HMAC of the access key id and the token's nonce. Nothing is stored: any instance with the key
 * checks a token and re-derives its secret, and a changed byte anywhere fails the GCM tag.
 * Pure and runtime-neutral (crypto through the Platform seam).
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html
 * @see https://min.io/docs/minio/linux/developers/security-token-service/AssumeRoleWithLDAPIdentity.html
 */
import { AeadAuthError, type AeadKey, type Platform } from '../platform/types.js'
import { S3Error } from '../s3/errors.js'
import { parsePolicy, type Policy } from './policy.js'
import type { Principal } from './principal.js'
import type { CredentialLookup } from './sigv4/verify.js'

/** What a session token seals. */
export interface SessionClaims {
  user: string
  groups: string[]
  /** The session policy document as the caller sent it (JSON text), if any. */
  policy?: string
  /** Expiry, milliseconds since the epoch (stored as whole seconds). */
  expiresAt: number
  accessKeyId: string
}

export interface TemporaryCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
  expiration: Date
}

export interface StsCodec {
  /** Mints credentials for a session ending at `expiresAt` (ms since the epoch). */
  issue(session: { user: string; groups: string[]; policy?: string; expiresAt: number }): Promise<TemporaryCredentials>
  /** The claims and secret of a token; throws S3Error InvalidToken (tampered, other key) or ExpiredToken. */
  open(token: string, now: number): Promise<{ claims: SessionClaims; secretAccessKey: string }>
}

const VERSION = 1
const NONCE_BYTES = 12
const AAD = new TextEncoder().encode('s3veil sts session token v1')
/** AWS's temporary access key ids start with ASIA; clients and log readers recognize them. */
const ACCESS_KEY_PREFIX = 'ASIA'
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
/** Headers are bounded; a token far larger than any we mint is not worth decoding. */
const MAX_TOKEN_CHARS = 8192

function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined
  try {
    return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0))
  } catch {
    return undefined
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

const invalid = () => new S3Error('InvalidToken')

/**
 * A codec under `tokenKey` (32 bytes). Separate subkeys for sealing and for secrets, so neither use
 * of the key can be turned against the other.
 */
export async function createStsCodec(platform: Platform, tokenKey: Uint8Array): Promise<StsCodec> {
  if (tokenKey.byteLength !== 32) throw new Error('sts token key must be 32 bytes')
  const sealKey: AeadKey = await platform.importAesKey(await platform.hmacSha256(tokenKey, 's3veil sts seal'))
  const secretKey = await platform.hmacSha256(tokenKey, 's3veil sts secret')
  const encoder = new TextEncoder()

  async function secretFor(accessKeyId: string, nonce: Uint8Array): Promise<string> {
    const mac = await platform.hmacSha256(secretKey, concat(encoder.encode(accessKeyId + '\u0000'), nonce))
    // 30 bytes are 40 base64 characters, the length of an AWS secret access key.
    return btoa(String.fromCharCode(...mac.subarray(0, 30)))
  }

  return {
    async issue(session) {
      let accessKeyId = ACCESS_KEY_PREFIX
      for (const b of platform.randomBytes(16)) accessKeyId += BASE32[b % 32]
      const claims = {
        u: session.user,
        g: session.groups,
        p: session.policy,
        e: Math.floor(session.expiresAt / 1000),
        k: accessKeyId,
      }
      const nonce = platform.randomBytes(NONCE_BYTES)
      const header = 1 + NONCE_BYTES
      const sealed = await platform.aesGcmSeal(sealKey, nonce, encoder.encode(JSON.stringify(claims)), AAD, header)
      sealed[0] = VERSION
      sealed.set(nonce, 1)
      return {
        accessKeyId,
        secretAccessKey: await secretFor(accessKeyId, nonce),
        sessionToken: base64url(sealed),
        expiration: new Date(claims.e * 1000),
      }
    },

    async open(token, now) {
      if (token.length > MAX_TOKEN_CHARS) throw invalid()
      const bytes = fromBase64url(token)
      if (!bytes || bytes.byteLength < 1 + NONCE_BYTES + 16 || bytes[0] !== VERSION) throw invalid()
      const nonce = bytes.subarray(1, 1 + NONCE_BYTES)
      let plain: Uint8Array
      try {
        plain = await platform.aesGcmOpen(sealKey, nonce, bytes.subarray(1 + NONCE_BYTES), AAD)
      } catch (err) {
        if (err instanceof AeadAuthError) throw invalid()
        throw err
      }
      const c = JSON.parse(new TextDecoder().decode(plain)) as { u: string; g: string[]; p?: string; e: number; k: string }
      const claims: SessionClaims = { user: c.u, groups: c.g, policy: c.p, expiresAt: c.e * 1000, accessKeyId: c.k }
      if (now >= claims.expiresAt) throw new S3Error('ExpiredToken')
      return { claims, secretAccessKey: await secretFor(claims.accessKeyId, nonce) }
    },
  }
}

/** The session policy of a token or an STS request; throws PolicyError when it is not one we can enforce. */
export function parseSessionPolicy(text: string): Policy {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    document = undefined
  }
  return parsePolicy('session policy', document)
}

/**
 * SigV4 credentials of temporary sessions: only requests that carry a session token, whose access key
 * id must be the one the token was minted with. The principal is a directory user (its groups'
 * policies) further limited by the session policy.
 */
export function stsCredentials(codec: StsCodec, now: () => number = Date.now): CredentialLookup {
  return async (accessKeyId, sessionToken) => {
    if (sessionToken === undefined) return undefined
    const { claims, secretAccessKey } = await codec.open(sessionToken, now())
    if (claims.accessKeyId !== accessKeyId) throw invalid()
    const principal: Principal = {
      user: claims.user,
      groups: claims.groups,
      accessKeyId,
      method: 'sigv4-header',
      directory: 'ldap',
      // Validated when the token was issued under the same parser; a token cannot carry another.
      sessionPolicy: claims.policy === undefined ? undefined : parseSessionPolicy(claims.policy),
    }
    return { accessKeyId, secretAccessKey, principal }
  }
}
