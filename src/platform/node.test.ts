import { createDecipheriv } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { nodePlatform as platform } from './node.js'
import { AeadAuthError, type HashAlgorithm } from './types.js'

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const check = new TextEncoder().encode('123456789')

describe('node platform hashes', () => {
  // The standard check values of each algorithm over the ASCII string "123456789".
  const cases: [HashAlgorithm, string][] = [
    ['crc32', 'cbf43926'],
    ['crc32c', 'e3069283'],
    ['crc64nvme', 'ae8b14860a799888'],
    ['sha1', 'f7c3bc1d808e04732adf679965ccc34ca7ae3441'],
    ['md5', '25f9e794323b453885f5181f1b624d0b'],
    ['sha256', '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225'],
  ]
  it.each(cases)('%s gives its check value, fed whole or byte by byte', async (algorithm, expected) => {
    const whole = platform.createHash(algorithm)
    whole.update(check)
    expect(hex(await whole.digest())).toBe(expected)
    const pieces = platform.createHash(algorithm)
    for (const byte of check) pieces.update(Uint8Array.of(byte))
    expect(hex(await pieces.digest())).toBe(expected)
  })
})

describe('node platform AES-256-GCM', () => {
  const raw = new Uint8Array(32).map((_, i) => i)
  const nonce = new Uint8Array(12).fill(7)
  const aad = new TextEncoder().encode('aad')
  const plaintext = new TextEncoder().encode('attack at dawn')

  it('seals with headroom left for the caller and opens again; node:crypto agrees', async () => {
    const key = await platform.importAesKey(raw)
    const sealed = await platform.aesGcmSeal(key, nonce, plaintext, aad, 12)
    expect(sealed.byteLength).toBe(12 + plaintext.byteLength + 16)
    const body = sealed.subarray(12)
    expect(Buffer.from(await platform.aesGcmOpen(key, nonce, body, aad)).toString()).toBe('attack at dawn')
    const decipher = createDecipheriv('aes-256-gcm', raw, nonce)
    decipher.setAAD(aad)
    decipher.setAuthTag(body.subarray(body.byteLength - 16))
    expect(Buffer.concat([decipher.update(body.subarray(0, body.byteLength - 16)), decipher.final()]).toString()).toBe(
      'attack at dawn'
    )
  })

  it('refuses a flipped byte, other associated data, and a short record', async () => {
    const key = await platform.importAesKey(raw)
    const sealed = await platform.aesGcmSeal(key, nonce, plaintext, aad)
    const flipped = sealed.slice()
    flipped[3]! ^= 1
    await expect(platform.aesGcmOpen(key, nonce, flipped, aad)).rejects.toBeInstanceOf(AeadAuthError)
    await expect(platform.aesGcmOpen(key, nonce, sealed, new Uint8Array(0))).rejects.toBeInstanceOf(AeadAuthError)
    await expect(platform.aesGcmOpen(key, nonce, sealed.subarray(0, 15), aad)).rejects.toBeInstanceOf(AeadAuthError)
  })

  it('only takes 32-byte keys, and compares in constant time only equal lengths', async () => {
    await expect(platform.importAesKey(new Uint8Array(16))).rejects.toThrow()
    expect(platform.timingSafeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true)
    expect(platform.timingSafeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false)
    expect(platform.timingSafeEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false)
  })
})
