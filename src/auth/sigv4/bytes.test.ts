import { describe, expect, it } from 'vitest'
import { fromBase64, fromHex, isSha256Hex, signedBytes, toBase64, toHex } from './bytes.js'

describe('hex', () => {
  it('round-trips all byte values, lowercase out, either case in', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const hex = toHex(all)
    expect(hex).toBe(Buffer.from(all).toString('hex'))
    expect(fromHex(hex)).toEqual(all)
    expect(fromHex(hex.toUpperCase())).toEqual(all)
  })

  it('rejects odd length and non-hex digits', () => {
    expect(fromHex('abc')).toBeUndefined()
    expect(fromHex('zz')).toBeUndefined()
    expect(fromHex('0g')).toBeUndefined()
    expect(fromHex('')).toEqual(new Uint8Array(0))
  })

  it('recognises a SHA-256 hex value only in lowercase 64-digit form', () => {
    expect(isSha256Hex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe(true)
    expect(isSha256Hex('E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855')).toBe(false)
    expect(isSha256Hex('e3b0')).toBe(false)
  })
})

describe('base64', () => {
  it('decodes padded standard base64', () => {
    expect(fromBase64('sOO8/Q==')).toEqual(Uint8Array.from([0xb0, 0xe3, 0xbc, 0xfd]))
    expect(fromBase64('')).toEqual(new Uint8Array(0))
    expect(fromBase64('AAAA')).toEqual(new Uint8Array(3))
  })

  it('refuses what atob would forgive: missing padding, whitespace, url alphabet', () => {
    expect(fromBase64('sOO8/Q')).toBeUndefined()
    expect(fromBase64('sOO8 /Q==')).toBeUndefined()
    expect(fromBase64('sOO8_Q==')).toBeUndefined()
    expect(fromBase64('s===')).toBeUndefined()
  })

  it('encodes as Buffer does', () => {
    const bytes = Uint8Array.from({ length: 33 }, (_, i) => i * 7)
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'))
  })
})

describe('signedBytes', () => {
  it('passes ASCII through as UTF-8', () => {
    expect(Buffer.from(signedBytes('GET\n/\n')).toString()).toBe('GET\n/\n')
  })

  it('maps byte-string chars (a UTF-8 header value read as Latin-1) back to the bytes sent', () => {
    const sent = Buffer.from('naïve ☃', 'utf8')
    const asHeaders = sent.toString('latin1')
    expect(Buffer.from(signedBytes(asHeaders))).toEqual(sent)
  })

  it('encodes chars above U+00FF as UTF-8', () => {
    expect(Buffer.from(signedBytes('x☃'))).toEqual(Buffer.from('x☃', 'utf8'))
  })
})
