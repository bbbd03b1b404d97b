/**
 * The Web platform (Workers) against the Node one: same bytes for every primitive, so objects, SigV4
 * signatures, STS tokens and password hashes made on one runtime check out on the other. (The
 * `web-platform` vitest project also runs node.test.ts and the crypto/SigV4 suites on it.)
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { hashPassword, parsePasswordHash, verifyPassword } from '../auth/password.js'
import { nodePlatform } from './node.js'
import type { HashAlgorithm } from './types.js'
import { webPlatform } from './web.js'

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const ALGORITHMS: HashAlgorithm[] = ['sha256', 'sha1', 'md5', 'crc32', 'crc32c', 'crc64nvme']

/** `data` in pieces of random sizes (0 included), as request bodies arrive. */
function pieces(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < data.byteLength; ) {
    const size = Math.min(data.byteLength - at, Math.floor(Math.random() * 70_000))
    out.push(data.subarray(at, at + size))
    at += size
  }
  return out
}

describe('web platform = node platform', () => {
  it.each(ALGORITHMS)('%s: same digest, whatever the chunking', async (algorithm) => {
    for (const size of [0, 1, 63, 64, 65, 100_000, 1_000_003]) {
      const data = randomBytes(size)
      const node = nodePlatform.createHash(algorithm)
      node.update(data)
      const web = webPlatform.createHash(algorithm)
      for (const piece of pieces(data)) web.update(piece)
      expect(hex(await web.digest()), `${algorithm} of ${size} bytes`).toBe(hex(await node.digest()))
    }
  })

  it('one-shot SHA-256 and HMAC-SHA256 of bytes and strings', async () => {
    for (const data of [randomBytes(1000), 'AWS4-HMAC-SHA256\n20261203T000000Z\nü', '']) {
      const bytes = typeof data === 'string' ? data : new Uint8Array(data)
      expect(hex(await webPlatform.sha256(bytes))).toBe(hex(await nodePlatform.sha256(bytes)))
      const key = randomBytes(32)
      expect(hex(await webPlatform.hmacSha256(key, bytes))).toBe(hex(await nodePlatform.hmacSha256(key, bytes)))
    }
  })

  it('AES-256-GCM: what one seals the other opens, with the same bytes and headroom', async () => {
    const raw = randomBytes(32)
    const [webKey, nodeKey] = [await webPlatform.importAesKey(raw), await nodePlatform.importAesKey(raw)]
    for (const size of [0, 1, 65536]) {
      const nonce = randomBytes(12)
      const aad = randomBytes(40)
      const plain = randomBytes(size)
      const fromWeb = await webPlatform.aesGcmSeal(webKey, nonce, plain, aad, 12)
      const fromNode = await nodePlatform.aesGcmSeal(nodeKey, nonce, plain, aad, 12)
      expect(hex(fromWeb.subarray(12))).toBe(hex(fromNode.subarray(12)))
      expect(hex(await nodePlatform.aesGcmOpen(nodeKey, nonce, fromWeb.subarray(12), aad))).toBe(hex(plain))
      expect(hex(await webPlatform.aesGcmOpen(webKey, nonce, fromNode.subarray(12), aad))).toBe(hex(plain))
    }
  })

  it('random bytes beyond getRandomValues\' 64 KiB per call; constant-time compare', () => {
    const bytes = webPlatform.randomBytes(200_000)
    expect(bytes.byteLength).toBe(200_000)
    expect(bytes.subarray(190_000).some((b) => b !== 0)).toBe(true)
    expect(webPlatform.timingSafeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true)
    expect(webPlatform.timingSafeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false)
    expect(webPlatform.timingSafeEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false)
  })

  it('scrypt: same key, and a password hash made on either runtime verifies on the other', async () => {
    const params = { N: 1024, r: 8, p: 2 }
    const salt = randomBytes(16)
    const password = new TextEncoder().encode('pässword')
    expect(hex(await webPlatform.scrypt(password, salt, params, 32))).toBe(hex(await nodePlatform.scrypt(password, salt, params, 32)))
    for (const [maker, checker] of [[nodePlatform, webPlatform], [webPlatform, nodePlatform]] as const) {
      const stored = parsePasswordHash(await hashPassword('correct horse', params, maker))!
      expect(await verifyPassword('correct horse', stored, checker)).toBe(true)
      expect(await verifyPassword('correct horsE', stored, checker)).toBe(false)
    }
  })
})
