/**
 * @module auth/sigv4/signing-key
 * SigV4 signing-key derivation, kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
 * service), "aws4_request"), and a small bounded cache of derived keys. A key is valid for one
 * day/region/service, and busy clients reuse it for every request of that day, so caching saves four
 * HMACs per request.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#derive-signing-key
 */
import type { Platform } from '../../platform/types.js'
import { toHex, utf8Encoder } from './bytes.js'

export const SCOPE_TERMINATOR = 'aws4_request'

/** Derives the signing key for one credential scope. */
export async function deriveSigningKey(
  platform: Platform,
  secretAccessKey: string,
  date: string,
  region: string,
  service: string
): Promise<Uint8Array> {
  const kDate = await platform.hmacSha256(utf8Encoder.encode('AWS4' + secretAccessKey), date)
  const kRegion = await platform.hmacSha256(kDate, region)
  const kService = await platform.hmacSha256(kRegion, service)
  return platform.hmacSha256(kService, SCOPE_TERMINATOR)
}

/** HMAC-SHA256 of a string with a derived key, as lowercase hex (the form signatures take). */
export async function hmacHex(
  platform: Platform,
  key: Uint8Array,
  data: string | Uint8Array
): Promise<string> {
  return toHex(await platform.hmacSha256(key, data))
}

interface CacheEntry {
  secret: string
  key: Uint8Array
}

/**
 * Least-recently-used cache of signing keys, keyed by access key and scope. The secret is stored with
 * each entry and must match on lookup, so a rotated secret never reuses a key derived from the old one.
 */
export class SigningKeyCache {
  readonly #entries = new Map<string, CacheEntry>()

  constructor(readonly maxEntries = 256) {}

  get size(): number {
    return this.#entries.size
  }

  async get(
    platform: Platform,
    accessKeyId: string,
    secretAccessKey: string,
    date: string,
    region: string,
    service: string
  ): Promise<Uint8Array> {
    const id = `${accessKeyId}\n${date}\n${region}\n${service}`
    const hit = this.#entries.get(id)
    if (hit && hit.secret === secretAccessKey) {
      // Re-insert so Map iteration order tracks recency.
      this.#entries.delete(id)
      this.#entries.set(id, hit)
      return hit.key
    }
    const key = await deriveSigningKey(platform, secretAccessKey, date, region, service)
    this.#entries.delete(id)
    this.#entries.set(id, { secret: secretAccessKey, key })
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done) break
      this.#entries.delete(oldest.value)
    }
    return key
  }

  clear(): void {
    this.#entries.clear()
  }
}

/** The process-wide cache used by verifyRequest unless another is passed. */
export const defaultSigningKeyCache = new SigningKeyCache()
