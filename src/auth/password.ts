/**
 * @module auth/password
 * Password hashes for local users' HTTP Basic passwords (Node only: node:crypto scrypt). Format
 * `scrypt$N$r$p$salt$hash` with base64 salt and hash, so the cost can be raised later without
 * invalidating stored hashes. Only hashes are configured; plain passwords never are.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type { PasswordCheck, PasswordVerifier } from './basic.js'
import type { Principal } from './principal.js'

/**
 * N=2^15, r=8, p=1: 32 MiB and some 50 ms per check. Basic clients send the password with every
 * request, so this is paid per request; OWASP's 2^17 would make each cost 128 MiB.
 */
const DEFAULT = { N: 32768, r: 8, p: 1 }
const HASH_BYTES = 32

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 }
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)))
  )
}

export async function hashPassword(password: string, params = DEFAULT): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, params)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), hash.toString('base64')].join('$')
}

interface ParsedHash {
  params: { N: number; r: number; p: number }
  salt: Buffer
  hash: Buffer
}

/** Undefined when `stored` is not a well-formed scrypt hash of this format. */
export function parsePasswordHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [N, r, p] = parts.slice(1, 4).map((n) => (/^\d{1,9}$/.test(n) ? Number(n) : NaN)) as [number, number, number]
  // N must be a power of two above 1; bounds keep a hostile config from exhausting memory.
  if (!(N > 1 && (N & (N - 1)) === 0 && N <= 2 ** 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return undefined
  const salt = Buffer.from(parts[4]!, 'base64')
  const hash = Buffer.from(parts[5]!, 'base64')
  if (salt.byteLength < 8 || hash.byteLength < 16) return undefined
  return { params: { N, r, p }, salt, hash }
}

export async function verifyPassword(password: string, stored: ParsedHash): Promise<boolean> {
  const actual = await derive(password, stored.salt, stored.params)
  return actual.byteLength === stored.hash.byteLength && timingSafeEqual(actual, stored.hash)
}

/** Local users with a password hash, as the first Basic verifier. */
export function localPasswords(users: readonly { name: string; groups: string[]; passwordHash?: string }[]): PasswordVerifier {
  const byName = new Map<string, { principal: Principal; hash: ParsedHash }>()
  for (const user of users) {
    if (user.passwordHash === undefined) continue
    const hash = parsePasswordHash(user.passwordHash)
    if (!hash) throw new Error(`user ${user.name}: password must be a hash made by "s3veil hash-password" (scrypt$N$r$p$salt$hash)`)
    byName.set(user.name, { principal: { user: user.name, groups: user.groups, method: 'basic' }, hash })
  }
  return async (username, password): Promise<PasswordCheck> => {
    const entry = byName.get(username)
    if (!entry) return 'no-such-user'
    return (await verifyPassword(password, entry.hash)) ? { principal: entry.principal } : 'wrong-password'
  }
}
