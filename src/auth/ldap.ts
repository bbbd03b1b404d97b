/**
 * @module auth/ldap
 * LDAP as a Basic password verifier (Node only: ldapts). Search-then-bind: a service account finds
 * the user's entry by a filter, then the user's own bind checks the password; groups come from the
 * entry's `memberOf` or from a group search. Without a service account, direct bind: the user's DN is
 * built from a template and bound to, and the same lookups run bound as the user. Successes are cached briefly so a directory outage or
 * load spike does not stall every request; failures are not cached (a user who fixes a typo is not
 * held back). A directory that cannot be reached answers ServiceUnavailable at once, and keeps doing
 * so for a few seconds without retrying, rather than making every request wait for a timeout.
 * @see https://www.rfc-editor.org/rfc/rfc4515 (filter escaping)
 * @see https://www.rfc-editor.org/rfc/rfc4514#section-2.4 (DN value escaping)
 * @see https://www.rfc-editor.org/rfc/rfc4513#section-5.1.2 (unauthenticated binds)
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import { Client, InvalidCredentialsError, InvalidDNSyntaxError, NoSuchObjectError } from 'ldapts'
import { S3Error } from '../s3/errors.js'
import type { PasswordCheck, PasswordVerifier } from './basic.js'

export interface LdapOptions {
  url: string
  /** The service account that searches for users; without it, `userDNTemplate` is bound to directly. */
  bindDN?: string
  bindPassword?: string
  userBase?: string
  /** Direct bind: `{username}` is replaced by the DN-escaped user name, e.g. `uid={username},ou=people,…`. */
  userDNTemplate?: string
  /** `{username}` is replaced by the escaped user name, e.g. `(uid={username})`. */
  userFilter: string
  /** Attribute on the user entry listing group DNs; used when `groupBase` is not set. */
  groupAttribute: string
  /** When set, groups are found by searching here with `groupFilter` instead. */
  groupBase?: string
  /** `{dn}` and `{username}` are replaced, escaped, e.g. `(member={dn})`. */
  groupFilter: string
  startTLS: boolean
  tls?: ConnectionOptions
  /** Connect and per-operation timeout. */
  timeoutMs: number
  cacheTtlMs: number
  /** After the directory could not be reached, how long to answer ServiceUnavailable without trying. */
  retryAfterMs: number
  /** Called with the cause when the directory fails (for the log; never shown to clients). */
  onError?: (err: unknown) => void
  now?: () => number
}

export const LDAP_DEFAULTS = {
  userFilter: '(uid={username})',
  groupAttribute: 'memberOf',
  groupFilter: '(member={dn})',
  startTLS: false,
  timeoutMs: 3000,
  cacheTtlMs: 60_000,
  retryAfterMs: 5000,
} as const

/** Escapes a value for use inside an LDAP search filter (RFC 4515 section 3). */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\u0000]/g, (ch) => '\\' + ch.charCodeAt(0).toString(16).padStart(2, '0'))
}

/** The value of a DN's first RDN (`cn=scientists,ou=groups,…` → `scientists`), for naming groups. */
export function firstRdnValue(dn: string): string | undefined {
  const match = /^[^=,]+=((?:\\.|[^,\\+])*)/.exec(dn)
  return match ? match[1]!.replace(/\\(.)/g, '$1').trim() : undefined
}

/**
 * Escapes a value for use as an attribute value in a DN (RFC 4514 section 2.4), so a user name such
 * as `newton,ou=x` stays one value instead of adding RDNs. `=` is escaped too, which the RFC allows.
 */
export function escapeDnValue(value: string): string {
  const chars = [...value]
  return chars
    .map((ch, i) => {
      if (ch === '\u0000') return '\\00'
      if ('\\",+;<>='.includes(ch)) return '\\' + ch
      const edge = (i === 0 && (ch === ' ' || ch === '#')) || (i === chars.length - 1 && ch === ' ')
      return edge ? '\\' + ch : ch
    })
    .join('')
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(username|dn)\}/g, (_all, name: string) => escapeFilterValue(values[name] ?? ''))
}

function attributeValues(entry: Record<string, unknown>, name: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase())
  const value = key === undefined ? undefined : entry[key]
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)))
}

export function createLdapVerifier(options: LdapOptions): PasswordVerifier {
  const now = options.now ?? Date.now
  // Cache keys hold a keyed hash of the password, never the password; the key dies with the process.
  const cacheKey = randomBytes(32)
  const cache = new Map<string, { groups: string[]; expires: number }>()
  let downUntil = 0

  async function connect(): Promise<Client> {
    const client = new Client({
      url: options.url,
      timeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
      tlsOptions: options.tls,
    })
    if (options.startTLS) await client.startTLS(options.tls ?? {})
    return client
  }

  /** Group DNs from a group search (when `groupBase` is set) or from the entry's attribute. */
  async function groupsOf(client: Client, username: string, dn: string, entry: Record<string, unknown>): Promise<string[]> {
    let groupDns: string[]
    if (options.groupBase) {
      const groupFilter = fill(options.groupFilter, { username, dn })
      const found = await client.search(options.groupBase, { scope: 'sub', filter: groupFilter, attributes: ['dn'] })
      groupDns = found.searchEntries.map((g) => g.dn)
    } else {
      groupDns = attributeValues(entry, options.groupAttribute)
    }
    // Both forms, so `groups` in the config may name an LDAP group by cn or by DN.
    return [...new Set(groupDns.flatMap((g) => [g, ...(firstRdnValue(g) ? [firstRdnValue(g)!] : [])]))]
  }

  async function directBind(username: string, password: string): Promise<PasswordCheck> {
    const dn = options.userDNTemplate!.replace(/\{username\}/g, () => escapeDnValue(username))
    const user = await connect()
    try {
      try {
        await user.bind(dn, password)
      } catch (err) {
        // A DN with no entry is refused the same way (invalidCredentials), so no-such-user is unknowable.
        // A DN the server cannot parse is the user's doing, not an outage: no ServiceUnavailable for all.
        if (err instanceof InvalidCredentialsError || err instanceof InvalidDNSyntaxError) return 'wrong-password'
        throw err
      }
      let entry: Record<string, unknown> = {}
      if (!options.groupBase) {
        try {
          const { searchEntries } = await user.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [options.groupAttribute] })
          entry = searchEntries[0] ?? {}
        } catch (err) {
          // The directory may not let users read their own entry; then they have no groups (default deny).
          if (!(err instanceof NoSuchObjectError)) throw err
        }
      }
      const groups = await groupsOf(user, username, dn, entry)
      return { principal: { user: username, groups, method: 'basic', directory: 'ldap' } }
    } finally {
      await user.unbind().catch(() => {})
    }
  }

  async function lookUp(username: string, password: string): Promise<PasswordCheck> {
    if (options.bindDN === undefined) return directBind(username, password)
    const service = await connect()
    try {
      await service.bind(options.bindDN, options.bindPassword ?? '')
      const filter = fill(options.userFilter, { username })
      const wanted = options.groupBase ? ['dn'] : [options.groupAttribute]
      const { searchEntries } = await service.search(options.userBase ?? '', { scope: 'sub', filter, attributes: wanted, sizeLimit: 2 })
      // Two entries for one name is a directory problem; refusing beats guessing which one is meant.
      if (searchEntries.length !== 1) return 'no-such-user'
      const entry = searchEntries[0]!
      const user = await connect()
      try {
        await user.bind(entry.dn, password)
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return 'wrong-password'
        throw err
      } finally {
        await user.unbind().catch(() => {})
      }
      const groups = await groupsOf(service, username, entry.dn, entry)
      return { principal: { user: username, groups, method: 'basic', directory: 'ldap' } }
    } finally {
      await service.unbind().catch(() => {})
    }
  }

  return async (username, password) => {
    const key = username + '\u0000' + createHmac('sha256', cacheKey).update(password).digest('base64')
    const cached = cache.get(key)
    if (cached && cached.expires > now()) {
      return { principal: { user: username, groups: cached.groups, method: 'basic', directory: 'ldap' } }
    }
    if (cached) cache.delete(key)
    if (now() < downUntil) throw new S3Error('ServiceUnavailable', 'The directory service is unavailable.')
    let check: PasswordCheck
    try {
      check = await lookUp(username, password)
    } catch (err) {
      options.onError?.(err)
      downUntil = now() + options.retryAfterMs
      throw new S3Error('ServiceUnavailable', 'The directory service is unavailable.', { cause: err })
    }
    if (typeof check === 'object') {
      if (cache.size >= 10_000) cache.clear()
      cache.set(key, { groups: check.principal.groups, expires: now() + options.cacheTtlMs })
    }
    return check
  }
}
