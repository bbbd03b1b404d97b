/**
 * @module auth/sigv4/canonical
 * The canonical request and string to sign of Signature Version 4, built the way S3 builds them:
 * the path is percent-decoded and re-encoded once (S3 neither normalizes `.`/`..`/`//` nor encodes
 * twice, unlike other services), the query is decoded, re-encoded and sorted, and only the signed
 * headers are listed, with trimmed values.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
import { utf8Encoder } from './bytes.js'

/** Lowercase hex SHA-256 of the empty string; appears in every chunk's string to sign. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/**
 * How each byte is written by UriEncode(): the unreserved set A-Z a-z 0-9 - . _ ~ as itself, every
 * other byte as %XX with uppercase hex.
 */
const ENCODED_BYTE: string[] = Array.from({ length: 256 }, (_, byte) => {
  const char = String.fromCharCode(byte)
  return /[A-Za-z0-9\-._~]/.test(char) ? char : '%' + byte.toString(16).toUpperCase().padStart(2, '0')
})

/** SigV4 UriEncode() over bytes; `keepSlash` leaves '/' alone, as the path (but not the query) requires. */
export function uriEncode(bytes: Uint8Array, keepSlash: boolean): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!
    out += byte === 0x2f && keepSlash ? '/' : ENCODED_BYTE[byte]
  }
  return out
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37
  return -1
}

/**
 * Percent-decodes a raw path or query component to bytes. Hex may be of either case. A '%' that is not
 * followed by two hex digits is kept as a literal '%' (so it re-encodes as %25, which is what a client
 * that signed an unencoded key computed). Characters outside ASCII, which a well-formed request line
 * never holds, are taken as UTF-8. `plusAsSpace` reads '+' as a space (form encoding).
 */
export function percentDecode(raw: string, plusAsSpace: boolean): Uint8Array {
  const input = utf8Encoder.encode(raw)
  if (input.indexOf(0x25) < 0 && !(plusAsSpace && input.indexOf(0x2b) >= 0)) return input
  const out = new Uint8Array(input.length)
  let length = 0
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!
    if (byte === 0x25) {
      const hi = hexValue(input[i + 1])
      const lo = hexValue(input[i + 2])
      if (hi >= 0 && lo >= 0) {
        out[length++] = (hi << 4) | lo
        i += 2
        continue
      }
    }
    out[length++] = byte === 0x2b && plusAsSpace ? 0x20 : byte
  }
  return out.subarray(0, length)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })
const lenientUtf8 = new TextDecoder('utf-8')

/** UTF-8 text of decoded bytes, or undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** UTF-8 text with U+FFFD for invalid sequences (for reading parameter values, never for keys). */
export function decodeUtf8Lenient(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes)
}

/**
 * CanonicalURI for S3: the decoded path re-encoded once, slashes kept, no segment normalization.
 * An empty path is '/'.
 */
export function canonicalUri(pathBytes: Uint8Array): string {
  return pathBytes.length === 0 ? '/' : uriEncode(pathBytes, true)
}

/** One `name[=value]` piece of a raw query string, still percent-encoded. */
export interface RawQueryParam {
  name: string
  value: string
}

/** Splits a raw query on '&' (empty pieces dropped) and each piece at its first '='. */
export function splitQuery(rawQuery: string): RawQueryParam[] {
  const params: RawQueryParam[] = []
  if (rawQuery === '') return params
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue
    const eq = piece.indexOf('=')
    params.push(
      eq < 0 ? { name: piece, value: '' } : { name: piece.slice(0, eq), value: piece.slice(eq + 1) }
    )
  }
  return params
}

/** Decoded name/value pairs of a raw query ('+' taken literally, as SigV4 clients encode a space as %20). */
export function decodeQuery(rawQuery: string): { name: string; value: string }[] {
  return splitQuery(rawQuery).map(({ name, value }) => ({
    name: decodeUtf8Lenient(percentDecode(name, false)),
    value: decodeUtf8Lenient(percentDecode(value, false)),
  }))
}

/**
 * CanonicalQueryString: every parameter decoded and re-encoded with UriEncode(), sorted by encoded name
 * then value, a parameter without a value written `name=`. `omit` drops parameters by encoded name
 * (X-Amz-Signature for presigned URLs).
 */
export function canonicalQuery(
  params: readonly RawQueryParam[],
  plusAsSpace: boolean,
  omit?: (encodedName: string) => boolean
): string {
  const pairs: [string, string][] = []
  for (const { name, value } of params) {
    const encodedName = uriEncode(percentDecode(name, plusAsSpace), false)
    if (omit?.(encodedName)) continue
    pairs.push([encodedName, uriEncode(percentDecode(value, plusAsSpace), false)])
  }
  // Encoded strings are ASCII, so code-unit order is the byte order SigV4 asks for.
  pairs.sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
  return pairs.map(([name, value]) => name + '=' + value).join('&')
}

/**
 * A header value as SigV4 signs it: surrounding whitespace removed and inner runs collapsed to one
 * space. Only ASCII space and tab count as whitespace here: header values are byte strings, and bytes
 * such as 0xA0 or 0x85 (which JS regex `\s` matches) are parts of UTF-8 characters.
 */
export function canonicalHeaderValue(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '').replace(/[ \t]+/g, ' ')
}

/**
 * CanonicalHeaders: `name:value\n` for each signed header, in the order of SignedHeaders (which clients
 * send sorted). A signed header that is absent is signed with an empty value, which cannot match what
 * the client computed if it really sent one. Web `Headers` have already joined repeated headers with
 * ", "; SigV4 joins with "," so a request that repeats a signed header does not verify (rare: SDKs do
 * not repeat headers).
 */
export function canonicalHeaders(headers: Headers, signedHeaders: readonly string[]): string {
  let out = ''
  for (const name of signedHeaders) out += name + ':' + canonicalHeaderValue(headers.get(name) ?? '') + '\n'
  return out
}

export interface CanonicalRequestParts {
  method: string
  uri: string
  query: string
  /** Output of canonicalHeaders (each line ends in '\n'). */
  headers: string
  /** The SignedHeaders list exactly as the client sent it. */
  signedHeaders: string
  payloadHash: string
}

/** CanonicalRequest = method \n URI \n query \n headers \n signedHeaders \n payloadHash. */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  return [parts.method, parts.uri, parts.query, parts.headers, parts.signedHeaders, parts.payloadHash].join(
    '\n'
  )
}

/** StringToSign = algorithm \n timestamp \n scope \n last (a hex hash, or for chunks several lines). */
export function stringToSign(algorithm: string, amzDate: string, scope: string, ...rest: string[]): string {
  return [algorithm, amzDate, scope, ...rest].join('\n')
}
