import { describe, expect, it } from 'vitest'
import {
  ascii,
  concatBytes,
  fromBase64Url,
  isAllZero,
  lengthPrefixed,
  readU32,
  readU64,
  toBase64Url,
  writeU16,
  writeU32,
  writeU64,
} from './bytes.js'

describe('bytes', () => {
  it('ascii rejects non-ASCII', () => {
    expect([...ascii('s3veil/1')]).toEqual([...Buffer.from('s3veil/1')])
    expect(() => ascii('é')).toThrow(RangeError)
  })

  it('big-endian integers', () => {
    const b = new Uint8Array(14)
    writeU16(b, 0, 0x0102)
    writeU32(b, 2, 0x03040506)
    writeU64(b, 6, 0x0708090a0b0c)
    expect([...b]).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12])
    expect(readU32(b, 2)).toBe(0x03040506)
    expect(readU64(b, 6)).toBe(0x0708090a0b0c)
    writeU64(b, 6, Number.MAX_SAFE_INTEGER)
    expect(readU64(b, 6)).toBe(Number.MAX_SAFE_INTEGER)
    b.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 6)
    expect(Number.isSafeInteger(readU64(b, 6))).toBe(false)
    expect(() => writeU16(b, 0, 0x10000)).toThrow(RangeError)
    expect(() => writeU32(b, 0, -1)).toThrow(RangeError)
    expect(() => writeU64(b, 0, 2 ** 53)).toThrow(RangeError)
  })

  it('works on views with an offset', () => {
    const backing = new Uint8Array(16)
    const v = backing.subarray(3, 11)
    writeU64(v, 0, 258)
    expect(readU64(v, 0)).toBe(258)
    expect(backing[10]).toBe(2)
  })

  it('lengthPrefixed and concat', () => {
    expect([...lengthPrefixed('ü')]).toEqual([0, 2, 0xc3, 0xbc])
    expect([...concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))]).toEqual([1, 2, 3])
    expect(isAllZero(new Uint8Array(5))).toBe(true)
    expect(isAllZero(Uint8Array.of(0, 0, 1))).toBe(false)
  })

  it('base64url matches Node and is strict', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff)
      const text = toBase64Url(bytes)
      expect(text).toBe(Buffer.from(bytes).toString('base64url'))
      expect(fromBase64Url(text)).toEqual(bytes)
    }
    expect(fromBase64Url('AAA=')).toBeUndefined() // padding
    expect(fromBase64Url('A')).toBeUndefined() // impossible length
    expect(fromBase64Url('AB')).toBeUndefined() // non-zero leftover bits
    expect(fromBase64Url('a+b/')).toBeUndefined() // standard alphabet
    expect(fromBase64Url('')).toEqual(new Uint8Array(0))
  })
})
