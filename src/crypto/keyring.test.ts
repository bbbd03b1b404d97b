import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { expectIntegrity, fromHex, platform, toHex } from '../../test/fixtures/crypto/helpers.js'
import { UnknownKeyError } from './errors.js'
import { createKeyring, isValidKeyId, wrapAad, type WrapBinding } from './keyring.js'

const materialA = fromHex('a1'.repeat(32))
const materialB = fromHex('b2'.repeat(32))
const binding: WrapBinding = { bucket: 'photos', key: 'a/b.jpg', objectId: fromHex('00'.repeat(15) + '01'), multipart: false }
const dek = fromHex('d0'.repeat(32))

describe('keyring', () => {
  it('wraps with the current key and unwraps with any key in the ring', async () => {
    const old = await createKeyring(platform, { current: 'k1', keys: [{ id: 'k1', material: materialA }] })
    const rotated = await createKeyring(platform, {
      current: 'k2',
      keys: [
        { id: 'k1', material: materialA },
        { id: 'k2', material: materialB },
      ],
    })
    expect(rotated.currentId).toBe('k2')
    expect(rotated.ids).toEqual(['k1', 'k2'])
    expect(rotated.has('k1')).toBe(true)
    const wrappedOld = await old.wrap(dek, binding)
    expect(wrappedOld.kekId).toBe('k1')
    expect(wrappedOld.wrapped.byteLength).toBe(60)
    expect(toHex(await rotated.unwrap(wrappedOld, binding))).toBe(toHex(dek))
    const wrappedNew = await rotated.wrap(dek, binding)
    expect(wrappedNew.kekId).toBe('k2')
    expect(toHex(await rotated.unwrap(wrappedNew, binding))).toBe(toHex(dek))
    // The old ring does not know k2.
    const error = await old.unwrap(wrappedNew, binding).catch((e) => e)
    expect(error).toBeInstanceOf(UnknownKeyError)
    expect(error.message).toBe('unknown master key id "k2"')
  })

  it('a wrapped key opens only for its own binding and key', async () => {
    const ring = await createKeyring(platform, { current: 'k1', keys: [{ id: 'k1', material: materialA }] })
    const wrapped = await ring.wrap(dek, binding)
    await expectIntegrity(ring.unwrap(wrapped, { ...binding, bucket: 'photos2' }), 'unwrap')
    await expectIntegrity(ring.unwrap(wrapped, { ...binding, key: 'a/b.jpeg' }), 'unwrap')
    await expectIntegrity(ring.unwrap(wrapped, { ...binding, multipart: true }), 'unwrap')
    await expectIntegrity(ring.unwrap(wrapped, { ...binding, objectId: new Uint8Array(16) }), 'unwrap')
    // Same id, different material (a misconfigured gateway): fails as integrity, not as garbage.
    const wrong = await createKeyring(platform, { current: 'k1', keys: [{ id: 'k1', material: materialB }] })
    await expectIntegrity(wrong.unwrap(wrapped, binding), 'unwrap')
    const flipped = wrapped.wrapped.slice()
    flipped[30]! ^= 1
    await expectIntegrity(ring.unwrap({ kekId: 'k1', wrapped: flipped }, binding), 'unwrap')
    await expectIntegrity(ring.unwrap({ kekId: 'k1', wrapped: wrapped.wrapped.subarray(1) }, binding), 'unwrap')
  })

  it('length prefixes keep bucket and key from being re-split', () => {
    const a = wrapAad('k', { ...binding, bucket: 'ab', key: 'c' })
    const b = wrapAad('k', { ...binding, bucket: 'a', key: 'bc' })
    expect(toHex(a)).not.toBe(toHex(b))
    expect(Buffer.from(a.subarray(0, 13)).toString()).toBe('s3veil/1/wrap')
    expect(toHex(a.subarray(13))).toBe('0001' + '6b' + '0002' + '6162' + '0001' + '63' + toHex(binding.objectId) + '00')
  })

  it('validates its configuration without echoing material', async () => {
    const secret = fromHex('5e'.repeat(31))
    const errors = await Promise.all([
      createKeyring(platform, { current: 'k', keys: [{ id: 'k', material: secret }] }).catch((e: Error) => e.message),
      createKeyring(platform, { current: 'k', keys: [{ id: 'bad id', material: materialA }] }).catch((e: Error) => e.message),
      createKeyring(platform, { current: 'x', keys: [{ id: 'k', material: materialA }] }).catch((e: Error) => e.message),
      createKeyring(platform, {
        current: 'k',
        keys: [
          { id: 'k', material: materialA },
          { id: 'k', material: materialB },
        ],
      }).catch((e: Error) => e.message),
    ])
    expect(errors).toEqual([
      'master key "k" must be exactly 32 bytes',
      'invalid master key id "bad id": use [A-Za-z0-9._-]{1,64}',
      'current master key id "x" is not in the keyring',
      'duplicate master key id "k"',
    ])
    expect(isValidKeyId('a'.repeat(64))).toBe(true)
    expect(isValidKeyId('a'.repeat(65))).toBe(false)
    expect(isValidKeyId('key-2024.01_b')).toBe(true)
    expect(isValidKeyId('')).toBe(false)
  })

  it('never shows key material when printed, serialized or enumerated', async () => {
    const ring = await createKeyring(platform, { current: 'k1', keys: [{ id: 'k1', material: materialA }] })
    const shown = [String(ring), JSON.stringify(ring), inspect(ring, { showHidden: true, depth: 10 }), Object.keys(ring).join()]
    for (const text of shown) {
      expect(text).not.toMatch(/a1a1|oaGh|161,\s*161/i)
    }
    expect(JSON.parse(JSON.stringify(ring))).toEqual({ currentId: 'k1', ids: ['k1'] })
    expect(String(ring)).toBe('Keyring(current=k1, ids=k1)')
  })

  it('rejects wrong-sized data keys', async () => {
    const ring = await createKeyring(platform, { current: 'k1', keys: [{ id: 'k1', material: materialA }] })
    await expect(ring.wrap(new Uint8Array(16), binding)).rejects.toThrow(RangeError)
  })
})
