/**
 * @module platform/web
 * Web implementation of the runtime seam, for Cloudflare Workers (and any runtime with WebCrypto):
 * WebCrypto for AES-GCM, HMAC, one-shot SHA-256 and randomness; for incremental SHA-256, SHA-1 and
 * MD5, workerd's native `crypto.DigestStream` (some 30 times faster than JS for SHA-256 in workerd)
 * and elsewhere @noble/hashes; noble's scrypt; @aws-crypto for CRC32/CRC32C and the SDK's
 * CRC64-NVME. Nothing here touches node:* or Buffer.
 */
import { Crc32 } from '@aws-crypto/crc32'
import { Crc32c } from '@aws-crypto/crc32c'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { md5, sha1 } from '@noble/hashes/legacy'
import { scryptAsync } from '@noble/hashes/scrypt'
import { sha256 } from '@noble/hashes/sha2'
import { AeadAuthError, type AeadKey, type HashAlgorithm, type IncrementalHash, type Platform } from './types.js'

/** workerd's WritableStream that hashes what is written to it (not in other runtimes). */
interface DigestStreamLike extends WritableStream<ArrayBufferView> {
  readonly digest: Promise<ArrayBuffer>
}
type DigestStreamClass = new (algorithm: string) => DigestStreamLike

const DIGEST_NAMES = { sha256: 'SHA-256', sha1: 'SHA-1', md5: 'MD5' } as const

interface WebAeadKey extends AeadKey {
  readonly key: CryptoKey
}

const encoder = new TextEncoder()
/** getRandomValues fills at most this many bytes per call. */
const RANDOM_CHUNK = 65536

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data
}

function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value >>> 0)
  return out
}

/** A view WebCrypto accepts (TypeScript's BufferSource excludes views over a SharedArrayBuffer). */
function source(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return data as Uint8Array<ArrayBuffer>
}

function crcHash(crc: { update(data: Uint8Array): unknown; digest(): number }): IncrementalHash {
  return {
    update: (data) => void crc.update(data),
    digest: async () => u32be(crc.digest()),
  }
}

/** A native incremental digest: writes queue in order, the digest is ready once they are all hashed. */
function digestStreamHash(DigestStream: DigestStreamClass, algorithm: keyof typeof DIGEST_NAMES): IncrementalHash {
  const stream = new DigestStream(DIGEST_NAMES[algorithm])
  const writer = stream.getWriter()
  let failure: { error: unknown } | undefined
  return {
    update(data) {
      if (data.byteLength === 0) return
      // A copy: the write completes later, and callers may reuse or fill their buffer meanwhile.
      writer.write(data.slice()).catch((error: unknown) => (failure ??= { error }))
    },
    async digest() {
      await writer.close()
      if (failure) throw failure.error
      return new Uint8Array(await stream.digest)
    },
  }
}

function webHash(algorithm: HashAlgorithm): IncrementalHash {
  switch (algorithm) {
    case 'crc32':
      return crcHash(new Crc32())
    case 'crc32c':
      return crcHash(new Crc32c())
    case 'crc64nvme': {
      const crc = new Crc64Nvme()
      return { update: (data) => crc.update(data), digest: () => crc.digest() }
    }
    default: {
      const DigestStream = (crypto as { DigestStream?: DigestStreamClass }).DigestStream
      if (DigestStream) return digestStreamHash(DigestStream, algorithm)
      const hash = (algorithm === 'sha256' ? sha256 : algorithm === 'sha1' ? sha1 : md5).create()
      return { update: (data) => void hash.update(data), digest: async () => hash.digest() }
    }
  }
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let at = 0; at < length; at += RANDOM_CHUNK) crypto.getRandomValues(out.subarray(at, at + RANDOM_CHUNK))
  return out
}

/** Compares every byte whatever the differences, so the time taken says nothing about where they are. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

async function hmacSha256(key: Uint8Array, data: Uint8Array | string): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey('raw', source(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', imported, source(bytesOf(data))))
}

export const webPlatform: Platform = {
  randomBytes,
  createHash: webHash,
  sha256: async (data) => new Uint8Array(await crypto.subtle.digest('SHA-256', source(bytesOf(data)))),
  hmacSha256,
  timingSafeEqual,
  importAesKey: async (raw) => {
    if (raw.byteLength !== 32) throw new Error('AES-256 key must be 32 bytes')
    const key: WebAeadKey = {
      kind: 'aes-256-gcm',
      key: await crypto.subtle.importKey('raw', source(raw), 'AES-GCM', false, ['encrypt', 'decrypt']),
    }
    return key
  },
  aesGcmSeal: async (key, nonce, plaintext, aad, headroom = 0) => {
    const params = { name: 'AES-GCM', iv: source(nonce), additionalData: source(aad), tagLength: 128 }
    const sealed = new Uint8Array(await crypto.subtle.encrypt(params, (key as WebAeadKey).key, source(plaintext)))
    if (headroom === 0) return sealed
    // WebCrypto cannot write into our buffer: one copy to leave the caller its headroom.
    const out = new Uint8Array(headroom + sealed.byteLength)
    out.set(sealed, headroom)
    return out
  },
  aesGcmOpen: async (key, nonce, sealed, aad) => {
    if (sealed.byteLength < 16) throw new AeadAuthError()
    const params = { name: 'AES-GCM', iv: source(nonce), additionalData: source(aad), tagLength: 128 }
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, (key as WebAeadKey).key, source(sealed)))
    } catch {
      throw new AeadAuthError()
    }
  },
  scrypt: (password, salt, params, length) =>
    // Same bound on memory as Node's maxmem in platform/node.ts, so a hash that verifies there verifies here.
    scryptAsync(password, salt, { ...params, dkLen: length, maxmem: 256 * params.N * params.r + 1024 * 1024 }),
}
