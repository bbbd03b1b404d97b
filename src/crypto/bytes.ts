/**
 * @module crypto/bytes
 * Small byte helpers for the format codecs: big-endian integers, ASCII/UTF-8, concatenation and
 * base64url. Web-standard only (no Buffer), so the codecs run unchanged on Workers.
 */

export const EMPTY = new Uint8Array(0)

const encoder = new TextEncoder()

/** ASCII bytes of a label; rejects anything else so a typo cannot smuggle multi-byte text into an AAD. */
export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0x7f) throw new RangeError('not an ASCII string')
    out[i] = code
  }
  return out
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.byteLength
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError('u16 out of range')
  view(bytes).setUint16(offset, value)
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError('u32 out of range')
  view(bytes).setUint32(offset, value)
}

/** Writes a safe integer as u64be; values beyond 2^53 never occur in this format. */
export function writeU64(bytes: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('u64 out of range')
  const dv = view(bytes)
  dv.setUint32(offset, Math.floor(value / 0x1_0000_0000))
  dv.setUint32(offset + 4, value >>> 0)
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getUint32(offset)
}

/** Reads u64be as a number; the result is not a safe integer when the stored value is ≥ 2^53 (callers check). */
export function readU64(bytes: Uint8Array, offset: number): number {
  const dv = view(bytes)
  return dv.getUint32(offset) * 0x1_0000_0000 + dv.getUint32(offset + 4)
}

export function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4)
  writeU32(out, 0, value)
  return out
}

/** u16be length prefix followed by the UTF-8 bytes, so adjacent fields cannot be re-split. */
export function lengthPrefixed(text: string): Uint8Array {
  const body = utf8(text)
  const out = new Uint8Array(2 + body.byteLength)
  writeU16(out, 0, body.byteLength)
  out.set(body, 2)
  return out
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!
  return acc === 0
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const B64URL_INDEX = new Map([...B64URL].map((c, i) => [c, i]))

/** RFC 4648 §5 base64url without padding (metadata values must be plain ASCII tokens). */
export function toBase64Url(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!
  }
  return out
}

/**
 * Strict base64url decoding: undefined for any character outside the alphabet, padding, an impossible
 * length or non-zero leftover bits, so every byte string has exactly one accepted spelling.
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-3.5
 */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (const c of text) {
    const v = B64URL_INDEX.get(c)
    if (v === undefined) return undefined
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
    acc &= (1 << bits) - 1
  }
  if (acc !== 0) return undefined
  return out
}
