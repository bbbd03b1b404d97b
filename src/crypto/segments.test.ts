import { describe, expect, it } from 'vitest'
import { fromHex, platform, queuedPlatform, toHex } from '../../test/fixtures/crypto/helpers.js'
import { IntegrityError } from './errors.js'
import { manifestAad, openRecord, openSegment, sealRecord, sealSegment, segmentAad } from './segments.js'

const objectId = fromHex('000102030405060708090a0b0c0d0e0f')
const otherId = fromHex('ff0102030405060708090a0b0c0d0e0f')

describe('AAD builders', () => {
  it('segment AAD layout', () => {
    const aad = segmentAad(objectId, 0x01020304, 0x0a0b0c0d, true)
    expect(aad.byteLength).toBe(12 + 16 + 4 + 4 + 1)
    expect(Buffer.from(aad.subarray(0, 12)).toString()).toBe('s3veil/1/seg')
    expect(toHex(aad.subarray(12))).toBe('000102030405060708090a0b0c0d0e0f' + '01020304' + '0a0b0c0d' + '01')
    expect(segmentAad(objectId, 1, 0, false).at(-1)).toBe(0)
    expect(() => segmentAad(objectId.subarray(1), 1, 0, false)).toThrow(RangeError)
  })

  it('manifest AAD layout', () => {
    const footer = new Uint8Array(32).fill(7)
    const aad = manifestAad(objectId, footer)
    expect(Buffer.from(aad.subarray(0, 17)).toString()).toBe('s3veil/1/manifest')
    expect(toHex(aad.subarray(17, 33))).toBe(toHex(objectId))
    expect(toHex(aad.subarray(33))).toBe(toHex(footer))
    expect(() => manifestAad(objectId, new Uint8Array(31))).toThrow(RangeError)
  })
})

describe('sealed records', async () => {
  const dek = await platform.importAesKey(new Uint8Array(32).fill(1))
  const key = { dek, objectId }

  it('seal puts the platform nonce first and opens back', async () => {
    const nonce = fromHex('a0a1a2a3a4a5a6a7a8a9aaab')
    const sealed = await sealSegment(queuedPlatform([nonce]), key, 1, 0, true, Uint8Array.of(1, 2, 3))
    expect(sealed.byteLength).toBe(3 + 28)
    expect(toHex(sealed.subarray(0, 12))).toBe(toHex(nonce))
    expect([...(await openSegment(platform, key, 1, 0, true, sealed))]).toEqual([1, 2, 3])
  })

  it('nonces are fresh per seal', async () => {
    const a = await sealSegment(platform, key, 1, 0, false, new Uint8Array(10))
    const b = await sealSegment(platform, key, 1, 0, false, new Uint8Array(10))
    expect(toHex(a.subarray(0, 12))).not.toBe(toHex(b.subarray(0, 12)))
  })

  it('a segment opens only at its own position, flag and object', async () => {
    const sealed = await sealSegment(platform, key, 3, 5, false, new Uint8Array(100))
    await expect(openSegment(platform, key, 3, 5, false, sealed)).resolves.toHaveLength(100)
    for (const [part, index, last, id] of [
      [4, 5, false, objectId],
      [3, 6, false, objectId],
      [3, 5, true, objectId],
      [3, 5, false, otherId],
    ] as const) {
      const error = await openSegment(platform, { dek, objectId: id }, part, index, last, sealed).catch((e) => e)
      expect(error).toBeInstanceOf(IntegrityError)
      expect(error.check).toBe('segment')
    }
  })

  it('any flipped bit or truncation fails', async () => {
    const sealed = await sealSegment(platform, key, 1, 0, true, new Uint8Array(40))
    for (const at of [0, 11, 12, 30, 51, 52, 67]) {
      const copy = sealed.slice()
      copy[at]! ^= 1
      await expect(openSegment(platform, key, 1, 0, true, copy)).rejects.toBeInstanceOf(IntegrityError)
    }
    await expect(openSegment(platform, key, 1, 0, true, sealed.subarray(0, 67))).rejects.toBeInstanceOf(IntegrityError)
    await expect(openSegment(platform, key, 1, 0, true, sealed.subarray(0, 20))).rejects.toBeInstanceOf(IntegrityError)
  })

  it('openRecord labels the failed check', async () => {
    const sealed = await sealRecord(platform, dek, Uint8Array.of(9), Uint8Array.of(1))
    const error = await openRecord(platform, dek, sealed, Uint8Array.of(2), 'manifest').catch((e) => e)
    expect(error.check).toBe('manifest')
  })
})
