/**
 * @module platform/node
 * Node implementation of the runtime seam: node:crypto for AES-GCM, hashes and HMAC, zlib.crc32
 * (native) for CRC32, @node-rs/crc32 (native) for CRC32C, the SDK's CRC64-NVME, and node:crypto's scrypt
 * (several times faster than the pure-JS one in platform/web.ts).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { crc32c } from '@node-rs/crc32'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { AeadAuthError, type AeadKey, type HashAlgorithm, type IncrementalHash, type Platform } from './types.js'

interface NodeAeadKey extends AeadKey {
  readonly raw: Buffer
}

function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value >>> 0)
  return out
}

function crcHash(update: (data: Uint8Array, prev: number) => number): IncrementalHash {
  let value = 0
  return {
    update(data) {
      value = update(data, value)
    },
    async digest() {
      return u32be(value)
    },
  }
}

function nodeHash(algorithm: HashAlgorithm): IncrementalHash {
  switch (algorithm) {
    case 'crc32':
      return crcHash((data, prev) => crc32(data, prev))
    case 'crc32c':
      return crcHash((data, prev) => crc32c(Buffer.from(data.buffer, data.byteOffset, data.byteLength), prev))
    case 'crc64nvme': {
      const crc = new Crc64Nvme()
      return {
        update: (data) => crc.update(data),
        digest: () => crc.digest(),
      }
    }
    default: {
      const hash = createHash(algorithm)
      return {
        update: (data) => void hash.update(data),
        digest: async () => new Uint8Array(hash.digest()),
      }
    }
  }
}

export const nodePlatform: Platform = {
  randomBytes: (length) => new Uint8Array(randomBytes(length)),
  createHash: nodeHash,
  sha256: async (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  hmacSha256: async (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
  timingSafeEqual: (a, b) => a.byteLength === b.byteLength && timingSafeEqual(a, b),
  importAesKey: async (raw) => {
    if (raw.byteLength !== 32) throw new Error('AES-256 key must be 32 bytes')
    const key: NodeAeadKey = { kind: 'aes-256-gcm', raw: Buffer.from(raw) }
    return key
  },
  aesGcmSeal: async (key, nonce, plaintext, aad, headroom = 0) => {
    const cipher = createCipheriv('aes-256-gcm', (key as NodeAeadKey).raw, nonce)
    cipher.setAAD(aad)
    const head = cipher.update(plaintext)
    const tail = cipher.final()
    const tag = cipher.getAuthTag()
    const out = new Uint8Array(headroom + head.byteLength + tail.byteLength + tag.byteLength)
    out.set(head, headroom)
    out.set(tail, headroom + head.byteLength)
    out.set(tag, headroom + head.byteLength + tail.byteLength)
    return out
  },
  aesGcmOpen: async (key, nonce, sealed, aad) => {
    if (sealed.byteLength < 16) throw new AeadAuthError()
    const decipher = createDecipheriv('aes-256-gcm', (key as NodeAeadKey).raw, nonce)
    decipher.setAAD(aad)
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - 16))
    const head = decipher.update(sealed.subarray(0, sealed.byteLength - 16))
    try {
      const tail = decipher.final()
      return tail.byteLength === 0 ? new Uint8Array(head.buffer, head.byteOffset, head.byteLength) : new Uint8Array(Buffer.concat([head, tail]))
    } catch {
      throw new AeadAuthError()
    }
  },
  scrypt: (password, salt, params, length) =>
    new Promise((resolve, reject) =>
      // maxmem: scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is just too small for N=2^15, r=8.
      scrypt(password, salt, length, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (err, key) =>
        err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))
      )
    ),
}
