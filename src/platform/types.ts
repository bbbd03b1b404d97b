/**
 * @module platform/types
 * The runtime seam. Shared code (s3/, auth/, crypto/, backend/encrypted.ts) uses only these
 * interfaces and Web-standard APIs; each runtime entry passes in its own implementation
 * (platform/node.ts uses node:crypto and zlib, which are several times faster than WebCrypto
 * and the SDK's pure-JS CRCs on this hardware).
 */

/** A request or object body: chunks of bytes, consumed once. Node streams and web ReadableStreams both fit. */
export type ByteSource = AsyncIterable<Uint8Array>

export type HashAlgorithm = 'sha256' | 'sha1' | 'md5' | 'crc32' | 'crc32c' | 'crc64nvme'

/** Incremental hash/checksum. `digest()` may be called once. CRCs digest to big-endian bytes. */
export interface IncrementalHash {
  update(data: Uint8Array): void
  digest(): Promise<Uint8Array>
}

/** An imported AES-256 key; opaque to callers. */
export interface AeadKey {
  readonly kind: 'aes-256-gcm'
}

export interface Platform {
  randomBytes(length: number): Uint8Array
  createHash(algorithm: HashAlgorithm): IncrementalHash
  /** One-shot SHA-256 of bytes or a UTF-8 string. */
  sha256(data: Uint8Array | string): Promise<Uint8Array>
  hmacSha256(key: Uint8Array, data: Uint8Array | string): Promise<Uint8Array>
  /** Constant-time comparison; false when lengths differ. */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean
  importAesKey(raw: Uint8Array): Promise<AeadKey>
  /**
   * AES-256-GCM: returns ciphertext ‖ 16-byte tag, preceded by `headroom` unset bytes the caller
   * fills in (the stored nonce), so a sealed segment costs one allocation instead of two copies.
   */
  aesGcmSeal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, headroom?: number): Promise<Uint8Array>
  /** AES-256-GCM open of ciphertext ‖ tag; throws AeadAuthError when the tag does not verify. */
  aesGcmOpen(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array>
  /** scrypt (RFC 7914) key derivation, for local users' password hashes. */
  scrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams, length: number): Promise<Uint8Array>
}

/** scrypt cost: N (a power of two), block size r, parallelism p. */
export interface ScryptParams {
  N: number
  r: number
  p: number
}

/** Thrown by `aesGcmOpen` when authentication fails. */
export class AeadAuthError extends Error {
  constructor() {
    super('AEAD authentication failed')
    this.name = 'AeadAuthError'
  }
}
