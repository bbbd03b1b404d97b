/**
 * @module auth/password
 * Password hashes for local users' HTTP Basic passwords. Format `scrypt$N$r$p$salt$hash` with base64
 * salt and hash, so the cost can be raised later without invalidating stored hashes. Only hashes are
 * configured; plain passwords never are. scrypt comes from the platform seam: Node's native one in
 * node.ts and the CLI, the portable one (platform/web.ts, the default here) on Workers; both give the
 * same bytes, so a hash made by `s3veil hash-password` verifies on either runtime.
 */
import { webPlatform } from '../platform/web.js'
import type { Platform, ScryptParams } from '../platform/types.js'
import { fromBase64, toBase64 } from './sigv4/bytes.js'
import type { PasswordCheck, PasswordVerifier } from './basic.js'
import type { Principal } from './principal.js'

/** What hashing and checking passwords needs from the platform. */
export type PasswordPlatform = Pick<Platform, 'scrypt' | 'randomBytes' | 'timingSafeEqual'>

/**
 * N=2^15, r=8, p=1: 32 MiB and some 50 ms per check. Basic clients send the password with every
 * request, so this is paid per request; OWASP's 2^17 would make each cost 128 MiB.
 */
const DEFAULT = { N: 32768, r: 8, p: 1 }
const HASH_BYTES = 32

function derive(platform: PasswordPlatform, password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return platform.scrypt(new TextEncoder().encode(password.normalize('NFC')), salt, params, HASH_BYTES)
}

export async function hashPassword(password: string, params = DEFAULT, platform: PasswordPlatform = webPlatform): Promise<string> {
  const salt = platform.randomBytes(16)
  const hash = await derive(platform, password, salt, params)
  return ['scrypt', params.N, params.r, params.p, toBase64(salt), toBase64(hash)].join('$')
}

interface ParsedHash {
  params: ScryptParams
  salt: Uint8Array
  hash: Uint8Array
}

/** Undefined when `stored` is not a well-formed scrypt hash of this format. */
export function parsePasswordHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [N, r, p] = parts.slice(1, 4).map((n) => (/^\d{1,9}$/.test(n) ? Number(n) : NaN)) as [number, number, number]
  // N must be a power of two above 1; bounds keep a hostile config from exhausting memory.
  if (!(N > 1 && (N & (N - 1)) === 0 && N <= 2 ** 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return undefined
  const salt = fromBase64(parts[4]!)
  const hash = fromBase64(parts[5]!)
  if (!salt || !hash || salt.byteLength < 8 || hash.byteLength < 16) return undefined
  return { params: { N, r, p }, salt, hash }
}

export async function verifyPassword(password: string, stored: ParsedHash, platform: PasswordPlatform = webPlatform): Promise<boolean> {
  return platform.timingSafeEqual(await derive(platform, password, stored.salt, stored.params), stored.hash)
}

/** Local users with a password hash, as the first Basic verifier. */
export function localPasswords(
  users: readonly { name: string; groups: string[]; passwordHash?: string }[],
  platform: PasswordPlatform = webPlatform
): PasswordVerifier {
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
    return (await verifyPassword(password, entry.hash, platform)) ? { principal: entry.principal } : 'wrong-password'
  }
}
