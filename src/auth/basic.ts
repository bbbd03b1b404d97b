/**
 * @module auth/basic
 * HTTP Basic authentication (RFC 7617) for simple clients such as `curl -u user:pass`: parsing the
 * header, trying password verifiers in order (local users, then LDAP), and throttling failed
 * attempts per user name and per client address. Pure and runtime-neutral: the verifiers that hash
 * or talk to a directory are Node-only modules passed in.
 * @see https://www.rfc-editor.org/rfc/rfc7617
 */
import { S3Error } from '../s3/errors.js'
import type { Principal } from './principal.js'

export interface BasicCredentials {
  username: string
  password: string
}

/**
 * One source of users. 'no-such-user' lets the next source try; 'wrong-password' ends the attempt, so
 * a local user cannot be taken over by a directory entry of the same name (or the other way round).
 * A source that cannot answer (directory down) throws an S3Error such as ServiceUnavailable.
 */
export type PasswordCheck = { principal: Principal } | 'no-such-user' | 'wrong-password'
export type PasswordVerifier = (username: string, password: string) => Promise<PasswordCheck>

/** Whether the request claims Basic authentication (the scheme name is case-insensitive). */
export function hasBasic(headers: Headers): boolean {
  return /^basic(\s|$)/i.test(headers.get('authorization') ?? '')
}

/**
 * The user name and password of an `Authorization: Basic` header, or undefined when the header is
 * absent, another scheme, or malformed (bad base64, not UTF-8, no colon, empty user name). Only the
 * first colon separates: passwords may contain colons, user names may not.
 */
export function parseBasic(headers: Headers): BasicCredentials | undefined {
  const match = /^basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(headers.get('authorization') ?? '')
  if (!match) return undefined
  let text: string
  try {
    const binary = atob(match[1]!)
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0))
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  const username = text.slice(0, colon)
  // Control characters have no place in a user name and only serve to confuse logs and directories.
  if (/[\u0000-\u001f\u007f]/.test(username)) return undefined
  return { username, password: text.slice(colon + 1) }
}

export interface ThrottleOptions {
  /** Failed attempts allowed in a burst, per user name and per client address. */
  burst: number
  /** Attempts regained per minute. */
  refillPerMinute: number
  /** Buckets kept at most; beyond it the oldest are forgotten (bounded memory under a spray). */
  maxEntries?: number
  now?: () => number
}

export const DEFAULT_THROTTLE: ThrottleOptions = { burst: 10, refillPerMinute: 10 }

/**
 * Token buckets of failed attempts. Only failures take tokens, so users who type their password
 * right are never slowed; an empty bucket refuses further attempts before any password is checked.
 */
export class FailureThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private readonly now: () => number
  private readonly maxEntries: number

  constructor(private readonly options: ThrottleOptions) {
    this.now = options.now ?? Date.now
    this.maxEntries = options.maxEntries ?? 10_000
  }

  /** Whether every one of the keys has an attempt left. */
  allows(keys: readonly string[]): boolean {
    return keys.every((key) => this.tokens(key) >= 1)
  }

  fail(keys: readonly string[]): void {
    for (const key of keys) {
      const tokens = this.tokens(key) - 1
      this.buckets.delete(key)
      this.buckets.set(key, { tokens: Math.max(0, tokens), at: this.now() })
      if (this.buckets.size > this.maxEntries) this.buckets.delete(this.buckets.keys().next().value!)
    }
  }

  private tokens(key: string): number {
    const bucket = this.buckets.get(key)
    if (!bucket) return this.options.burst
    const regained = ((this.now() - bucket.at) / 60_000) * this.options.refillPerMinute
    return Math.min(this.options.burst, bucket.tokens + regained)
  }
}

/** Why Basic authentication failed: the app answers 401 with a challenge for these. */
export class BasicAuthFailed extends S3Error {
  constructor() {
    super('AccessDenied')
  }
}

export interface BasicAuthenticator {
  /** The principal of valid credentials; throws BasicAuthFailed, SlowDown, or a source's S3Error. */
  authenticate(credentials: BasicCredentials | undefined, client: string | undefined): Promise<Principal>
}

export function createBasicAuthenticator(verifiers: readonly PasswordVerifier[], throttle: FailureThrottle): BasicAuthenticator {
  return {
    async authenticate(credentials, client) {
      // Directories match user names ignoring case and surrounding spaces, so the throttle must too,
      // or 'NEWTON' and ' newton' would each get a fresh allowance of guesses.
      const keys = [`addr:${client ?? '-'}`, ...(credentials ? [`user:${credentials.username.trim().toLowerCase()}`] : [])]
      if (!throttle.allows(keys)) throw new S3Error('SlowDown')
      // An empty password would be an unauthenticated bind to LDAP, which succeeds (RFC 4513 5.1.2).
      if (credentials && credentials.password !== '') {
        for (const verify of verifiers) {
          const check = await verify(credentials.username, credentials.password)
          if (check === 'no-such-user') continue
          if (check !== 'wrong-password') return { ...check.principal, method: 'basic' }
          break
        }
      }
      throttle.fail(keys)
      throw new BasicAuthFailed()
    },
  }
}
