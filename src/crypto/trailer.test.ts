import { describe, expect, it } from 'vitest'
import { expectIntegrity, fromHex, platform, toHex } from '../../test/fixtures/crypto/helpers.js'
import { IntegrityError } from './errors.js'
import {
  FOOTER_SIZE,
  MIN_PART_SIZE,
  SEGMENT_SIZE,
  bodyStoredLength,
  manifestStoredLength,
  maxTrailerLength,
  storedSize,
  type PartSpec,
} from './format.js'
import { manifestAad, sealRecord } from './segments.js'
import { decodeFooter, decodeManifest, decodeTrailer, encodeFooter, encodeManifest, encodeTrailer } from './trailer.js'

const S = SEGMENT_SIZE
const objectId = fromHex('101112131415161718191a1b1c1d1e1f')
const key = { dek: await platform.importAesKey(new Uint8Array(32).fill(3)), objectId }

function total(parts: PartSpec[]): number {
  return parts.reduce((a, p) => a + p.plainLength, 0)
}

/** A stored object's tail: filler standing in for the body, then the trailer. */
async function objectTail(parts: PartSpec[]): Promise<{ stored: number; trailer: Uint8Array }> {
  const trailer = await encodeTrailer(platform, key, parts, bodyStoredLength(parts))
  return { stored: storedSize(total(parts)), trailer }
}

describe('footer', () => {
  it('encodes the fixed 32-byte layout', () => {
    const footer = encodeFooter({ manifestStoredLength: 52, paddingLength: 0x010203040506 })
    expect(toHex(footer)).toBe('53335645494c' + '01' + '00' + '00000034' + '0000010203040506' + '00'.repeat(12))
    expect(decodeFooter(footer)).toEqual({ manifestStoredLength: 52, paddingLength: 0x010203040506 })
  })

  it('rejects anything v1 did not write', () => {
    const good = encodeFooter({ manifestStoredLength: 52, paddingLength: 0 })
    const cases: [number, number, RegExp][] = [
      [0, 0x54, /magic/],
      [6, 2, /version 2/],
      [6, 0, /version 0/],
      [7, 1, /flags/],
      [20, 1, /reserved/],
      [31, 1, /reserved/],
      [12, 0xff, /padding length/],
    ]
    for (const [at, value, message] of cases) {
      const bad = good.slice()
      bad[at] = value
      expect(() => decodeFooter(bad)).toThrow(message)
      expect(() => decodeFooter(bad)).toThrow(IntegrityError)
    }
    expect(() => decodeFooter(good.subarray(1))).toThrow(IntegrityError)
  })
})

describe('manifest plaintext', () => {
  it('round-trips and has the documented layout', () => {
    const parts = [
      { partNumber: 1, plainLength: MIN_PART_SIZE },
      { partNumber: 7, plainLength: 3 },
    ]
    const bytes = encodeManifest({ totalPlaintext: MIN_PART_SIZE + 3, parts })
    expect(bytes.byteLength).toBe(12 + 24)
    expect(toHex(bytes)).toBe('0000000000500003' + '00000002' + '00000001' + '0000000000500000' + '00000007' + '0000000000000003')
    expect(decodeManifest(bytes)).toEqual({ totalPlaintext: MIN_PART_SIZE + 3, parts })
  })

  it('rejects inconsistent manifests', () => {
    const one = [{ partNumber: 1, plainLength: 5 }]
    expect(() => decodeManifest(encodeManifest({ totalPlaintext: 6, parts: one }))).toThrow(/add up/)
    const wrongCount = encodeManifest({ totalPlaintext: 5, parts: one })
    wrongCount[11] = 2
    expect(() => decodeManifest(wrongCount)).toThrow(/part count/)
    expect(() => decodeManifest(new Uint8Array(13))).toThrow(/length/)
    const noParts = encodeManifest({ totalPlaintext: 0, parts: [] })
    expect(() => decodeManifest(noParts)).toThrow(/part count/)
    const order = encodeManifest({
      totalPlaintext: 2,
      parts: [
        { partNumber: 2, plainLength: 1 },
        { partNumber: 1, plainLength: 1 },
      ],
    })
    expect(() => decodeManifest(order)).toThrow(/strictly increasing/)
  })
})

describe('encodeTrailer / decodeTrailer', () => {
  const layouts: PartSpec[][] = [
    [{ partNumber: 1, plainLength: 0 }],
    [{ partNumber: 1, plainLength: 5 }],
    [{ partNumber: 1, plainLength: S }],
    [{ partNumber: 1, plainLength: 3 * MIN_PART_SIZE + 1 }],
    [
      { partNumber: 1, plainLength: MIN_PART_SIZE + 1 },
      { partNumber: 2, plainLength: MIN_PART_SIZE + 1 },
      { partNumber: 3, plainLength: S - 2 },
    ],
    [
      { partNumber: 2, plainLength: 8 * 1024 * 1024 },
      { partNumber: 9, plainLength: 0 },
    ],
  ]

  it('fills the object to exactly G(P) and decodes back', async () => {
    for (const parts of layouts) {
      const { stored, trailer } = await objectTail(parts)
      expect(bodyStoredLength(parts) + trailer.byteLength).toBe(stored)
      expect(trailer.byteLength).toBeLessThanOrEqual(maxTrailerLength(total(parts)))
      expect(toHex(trailer.subarray(-32, -26))).toBe(toHex(Buffer.from('S3VEIL')))
      const manifest = await decodeTrailer(platform, key, trailer, stored)
      expect(manifest).toEqual({ totalPlaintext: total(parts), parts })
      // A longer suffix (with body bytes before the trailer) works too, as a reader fetching maxTrailerLength gets.
      const extra = Math.min(100, bodyStoredLength(parts))
      const longer = new Uint8Array(trailer.byteLength + extra).fill(0xaa)
      longer.set(trailer, extra)
      expect(await decodeTrailer(platform, key, longer, stored)).toEqual(manifest)
    }
  })

  it('an empty object is 84 bytes: manifest for one empty part and the footer', async () => {
    const { trailer } = await objectTail([{ partNumber: 1, plainLength: 0 }])
    expect(trailer.byteLength).toBe(84)
    expect(decodeFooter(trailer.subarray(-32))).toEqual({ manifestStoredLength: 52, paddingLength: 0 })
  })

  it('refuses layouts S3 would refuse or that disagree with the body', async () => {
    const small = [
      { partNumber: 1, plainLength: MIN_PART_SIZE - 1 },
      { partNumber: 2, plainLength: 1 },
    ]
    await expect(encodeTrailer(platform, key, small, bodyStoredLength(small))).rejects.toThrow(/smaller than 5 MiB/)
    const one = [{ partNumber: 1, plainLength: 10 }]
    await expect(encodeTrailer(platform, key, one, bodyStoredLength(one) + 1)).rejects.toThrow(RangeError)
    await expect(encodeTrailer(platform, key, [], 0)).rejects.toThrow(RangeError)
    await expect(encodeTrailer(platform, key, [{ partNumber: 10001, plainLength: 1 }], 29)).rejects.toThrow(RangeError)
  })

  it('detects tampering in every trailer region', async () => {
    const parts = [{ partNumber: 1, plainLength: 3 * MIN_PART_SIZE + 1 }] // has padding: 3 spare part allowances
    const { stored, trailer } = await objectTail(parts)
    const manifestLength = manifestStoredLength(1)
    const padding = trailer.byteLength - manifestLength - FOOTER_SIZE
    expect(padding).toBe(120)
    const flip = async (at: number) => {
      const copy = trailer.slice()
      copy[at]! ^= 0x01
      return decodeTrailer(platform, key, copy, stored)
    }
    await expectIntegrity(flip(0), 'manifest') // nonce
    await expectIntegrity(flip(20), 'manifest') // ciphertext
    await expectIntegrity(flip(manifestLength - 1), 'manifest') // tag
    await expectIntegrity(flip(manifestLength), 'padding')
    await expectIntegrity(flip(manifestLength + padding - 1), 'padding')
    await expectIntegrity(flip(trailer.byteLength - 32), 'footer') // magic
    await expectIntegrity(flip(trailer.byteLength - 1), 'footer') // reserved
    // Footer lengths are authenticated through the manifest AAD even when still plausible:
    // shift the padding/manifest boundary by 12 bytes (one more record) and the manifest no longer opens.
    const footer = decodeFooter(trailer.subarray(-32))
    const forged = trailer.slice()
    forged.set(encodeFooter({ manifestStoredLength: footer.manifestStoredLength + 12, paddingLength: footer.paddingLength - 12 }), trailer.byteLength - 32)
    await expect(decodeTrailer(platform, key, forged, stored)).rejects.toBeInstanceOf(IntegrityError)
  })

  it('binds the manifest to its object and to the stored size', async () => {
    const parts = [{ partNumber: 1, plainLength: 70000 }]
    const { stored, trailer } = await objectTail(parts)
    await expectIntegrity(decodeTrailer(platform, { ...key, objectId: new Uint8Array(16) }, trailer, stored), 'manifest')
    await expectIntegrity(decodeTrailer(platform, key, trailer, storedSize(S) + 1), 'size') // G(S)+1 is no G(P)
    await expectIntegrity(decodeTrailer(platform, key, trailer, stored + 1), 'manifest') // G(70001): valid size, wrong object
    // A valid trailer of another size presented as this object's (e.g. object truncated to a valid size).
    const other = await objectTail([{ partNumber: 1, plainLength: 70000 - S }])
    await expectIntegrity(decodeTrailer(platform, key, other.trailer, stored), 'manifest')
  })

  it('rejects a correctly sealed manifest whose layout does not fit the stored size', async () => {
    // Forge with the real key: total agrees, but the claimed layout's body differs from the actual size.
    const parts = [{ partNumber: 1, plainLength: 3 * MIN_PART_SIZE }]
    const stored = storedSize(3 * MIN_PART_SIZE)
    const lying = [
      { partNumber: 1, plainLength: 3 * MIN_PART_SIZE - 1 },
      { partNumber: 2, plainLength: 1 },
    ]
    const manifestLength = manifestStoredLength(2)
    const paddingLength = stored - bodyStoredLength(parts) - manifestLength - FOOTER_SIZE // wrong body on purpose
    const footer = encodeFooter({ manifestStoredLength: manifestLength, paddingLength })
    const sealed = await sealRecord(platform, key.dek, encodeManifest({ totalPlaintext: 3 * MIN_PART_SIZE, parts: lying }), manifestAad(objectId, footer))
    const tail = new Uint8Array(manifestLength + paddingLength + FOOTER_SIZE)
    tail.set(sealed)
    tail.set(footer, tail.byteLength - 32)
    const error = await expectIntegrity(decodeTrailer(platform, key, tail, stored), 'manifest')
    expect(error.message).toMatch(/layout/)
  })

  it('asks for a longer tail when given too little, and rejects impossible footers', async () => {
    const parts = [{ partNumber: 1, plainLength: 3 * MIN_PART_SIZE + 1 }]
    const { stored, trailer } = await objectTail(parts)
    await expect(decodeTrailer(platform, key, trailer.subarray(1), stored)).rejects.toThrow(/need the last/)
    await expect(decodeTrailer(platform, key, trailer.subarray(-31), stored)).rejects.toThrow(RangeError)
    const huge = trailer.slice()
    huge.set(encodeFooter({ manifestStoredLength: 52, paddingLength: 1e9 }), trailer.byteLength - 32)
    await expectIntegrity(decodeTrailer(platform, key, huge, stored), 'footer')
    const tooManyParts = trailer.slice()
    tooManyParts.set(encodeFooter({ manifestStoredLength: manifestStoredLength(5), paddingLength: 0 }), trailer.byteLength - 32)
    await expectIntegrity(decodeTrailer(platform, key, tooManyParts, stored), 'footer')
    const oddLength = trailer.slice()
    oddLength.set(encodeFooter({ manifestStoredLength: 53, paddingLength: 0 }), trailer.byteLength - 32)
    await expectIntegrity(decodeTrailer(platform, key, oddLength, stored), 'footer')
  })
})
