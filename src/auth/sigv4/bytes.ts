/**
 * @module auth/sigv4/bytes
 * Small byte helpers for SigV4: lowercase hex (signatures and hashes are written that way on the
 * wire), strict base64 (checksum and Content-MD5 values), and turning a canonical string into the
 * bytes the client actually signed. Web-standard APIs only, so it runs on Workers as well as Node.
 */

const HEX_DIGITS = '0123456789abcdef'
const HEX_TABLE: string[] = Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4]! + HEX_DIGITS[i & 15]!)

export const utf8Encoder = new TextEncoder()

/** Lowercase hex, as SigV4 writes hashes and signatures. */
export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += HEX_TABLE[bytes[i]!]
  return out
}

function hexNibble(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x61 && code <= 0x66) return code - 0x57
  if (code >= 0x41 && code <= 0x46) return code - 0x37
  return -1
}

/** Decodes hex of either case; undefined for odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(hex.charCodeAt(2 * i))
    const lo = hexNibble(hex.charCodeAt(2 * i + 1))
    if (hi < 0 || lo < 0) return undefined
    out[i] = (hi << 4) | lo
  }
  return out
}

/** True for exactly 64 lowercase hex digits (the form of a SHA-256 payload hash). */
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value)
}

// Padded, canonical-alphabet base64 only: the AWS SDKs always pad, and accepting the lenient
// "forgiving base64" of atob would let two different strings name the same digest.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict base64 decode; undefined when the text is not padded standard base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined
  const binary = atob(text)
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}

export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!)
  return btoa(binary)
}

/**
 * The bytes of a canonical string as the client signed them. Everything SigV4 builds is ASCII except
 * header values, and web `Headers` hold those as byte strings (one char per received byte, so a UTF-8
 * value arrives as its Latin-1 reading). Chars up to U+00FF therefore map back to one byte each;
 * anything above (only possible if a caller built the value by hand) is taken as UTF-8.
 */
export function signedBytes(text: string): Uint8Array {
  if (/^[\x00-\x7f]*$/.test(text)) return utf8Encoder.encode(text)
  const out: number[] = []
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (code <= 0xff) out.push(code)
    else for (const byte of utf8Encoder.encode(char)) out.push(byte)
  }
  return Uint8Array.from(out)
}
