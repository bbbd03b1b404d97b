import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { fixture } from '../../../test/fixtures/sigv4/helpers.js'
import { docs } from '../../../test/fixtures/sigv4/docs.js'
import {
  EMPTY_SHA256,
  canonicalHeaderValue,
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  decodeQuery,
  decodeUtf8,
  percentDecode,
  splitQuery,
  stringToSign,
  uriEncode,
} from './canonical.js'

const utf8 = (s: string) => new TextEncoder().encode(s)

describe('uriEncode', () => {
  it('leaves only A-Z a-z 0-9 - . _ ~ unencoded, with uppercase hex', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const encoded = uriEncode(all, false)
    const kept = encoded.replace(/%[0-9A-F]{2}/g, '')
    expect(kept).toBe('-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~')
    expect(encoded).toContain('%2F')
    expect(encoded).toContain('%FF')
    expect(encoded).not.toMatch(/%[0-9A-F]?[a-f]/)
  })

  it("encodes the characters encodeURIComponent keeps (! ' ( ) *) and keeps '/' only in the path", () => {
    expect(uriEncode(utf8("!'()*/"), false)).toBe('%21%27%28%29%2A%2F')
    expect(uriEncode(utf8("!'()*/"), true)).toBe('%21%27%28%29%2A/')
  })

  it('encodes UTF-8 bytes of non-ASCII characters', () => {
    expect(uriEncode(utf8('ሴ é'), true)).toBe('%E1%88%B4%20%C3%A9')
  })
})

describe('percentDecode', () => {
  it('decodes hex of either case', () => {
    expect(Buffer.from(percentDecode('%7e%7E%2f', false)).toString()).toBe('~~/')
  })

  it("reads '+' literally unless asked to read it as a space", () => {
    expect(Buffer.from(percentDecode('a+b', false)).toString()).toBe('a+b')
    expect(Buffer.from(percentDecode('a+b', true)).toString()).toBe('a b')
    expect(Buffer.from(percentDecode('a%2Bb', true)).toString()).toBe('a+b')
  })

  it("keeps a '%' that does not start an escape", () => {
    expect(Buffer.from(percentDecode('100%', false)).toString()).toBe('100%')
    expect(Buffer.from(percentDecode('%zz%4', false)).toString()).toBe('%zz%4')
  })

  it('takes raw non-ASCII text as UTF-8 and decodes escapes to raw bytes', () => {
    expect(Buffer.from(percentDecode('/ሴ', false))).toEqual(Buffer.from('/ሴ'))
    expect(percentDecode('%FF%FE', false)).toEqual(Uint8Array.of(0xff, 0xfe))
  })

  it('decodeUtf8 refuses invalid UTF-8', () => {
    expect(decodeUtf8(Uint8Array.of(0xff))).toBeUndefined()
    expect(decodeUtf8(utf8('ok'))).toBe('ok')
  })
})

describe('canonicalUri', () => {
  const uri = (raw: string) => canonicalUri(percentDecode(raw, false))

  it('re-encodes once and normalizes escapes (%7E and ~ are the same key)', () => {
    expect(uri('/bucket/%7Ekey')).toBe('/bucket/~key')
    expect(uri('/bucket/~key')).toBe('/bucket/~key')
    expect(uri('/bucket/a%2fb')).toBe('/bucket/a/b')
    expect(uri('/bucket/test$file.text')).toBe('/bucket/test%24file.text')
    expect(uri('/bucket/a%20b')).toBe('/bucket/a%20b')
  })

  it('never resolves dot segments or merges slashes (S3 keys may contain them)', () => {
    expect(uri('/b/./x/../y//z/')).toBe('/b/./x/../y//z/')
    expect(uri('//')).toBe('//')
  })

  it("writes an empty path as '/'", () => {
    expect(uri('')).toBe('/')
  })
})

describe('canonicalQuery', () => {
  const q = (raw: string, plus = false) => canonicalQuery(splitQuery(raw), plus)

  it('sorts by name then value and writes valueless parameters as name=', () => {
    expect(q('prefix=J&max-keys=2')).toBe('max-keys=2&prefix=J')
    expect(q('b=2&a=2&a=1')).toBe('a=1&a=2&b=2')
    expect(q('uploads')).toBe('uploads=')
    expect(q('acl=&versionId=x')).toBe('acl=&versionId=x')
  })

  it('sorts by encoded byte order (uppercase before lowercase)', () => {
    expect(q('Param2=value2&Param1=value1&param0=x')).toBe('Param1=value1&Param2=value2&param0=x')
  })

  it('re-encodes each name and value with UriEncode, including / and =', () => {
    expect(q('prefix=a/b&delimiter=%2f')).toBe('delimiter=%2F&prefix=a%2Fb')
    expect(q('k=a%3Db=c')).toBe('k=a%3Db%3Dc')
    expect(q('%E1%88%B4=bar&x=%7e')).toBe('%E1%88%B4=bar&x=~')
  })

  it("reads '+' literally or as a space", () => {
    expect(q('prefix=a+b')).toBe('prefix=a%2Bb')
    expect(q('prefix=a+b', true)).toBe('prefix=a%20b')
  })

  it('drops empty pieces and omitted names', () => {
    expect(q('&a=1&&b=2&')).toBe('a=1&b=2')
    expect(canonicalQuery(splitQuery('a=1&X-Amz-Signature=ff'), false, (n) => n === 'X-Amz-Signature')).toBe(
      'a=1'
    )
  })

  it('decodeQuery gives decoded pairs', () => {
    expect(decodeQuery('X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&flag')).toEqual([
      { name: 'X-Amz-Credential', value: 'AK/20130524/us-east-1/s3/aws4_request' },
      { name: 'flag', value: '' },
    ])
  })
})

describe('canonical headers', () => {
  it('trims values and collapses inner runs of spaces and tabs', () => {
    expect(canonicalHeaderValue('  "a   b \t c"  ')).toBe('"a b c"')
  })

  it('does not treat bytes 0xA0 or 0x85 (parts of UTF-8 characters) as whitespace', () => {
    const value = Buffer.from('à…', 'utf8').toString('latin1')
    expect(canonicalHeaderValue(value)).toBe(value)
  })

  it('lists the signed headers only, in SignedHeaders order, each line ending in a newline', () => {
    const headers = new Headers({ Host: 'h', 'X-Amz-Date': 'd', 'User-Agent': 'ua' })
    expect(canonicalHeaders(headers, ['host', 'x-amz-date'])).toBe('host:h\nx-amz-date:d\n')
    expect(canonicalHeaders(headers, ['host', 'x-missing'])).toBe('host:h\nx-missing:\n')
  })
})

describe('canonical request and string to sign (S3 documentation examples)', () => {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex')

  for (const example of docs.headerAuth.filter((e) => 'canonicalRequest' in e)) {
    it(example.name, () => {
      const headers = new Headers(example.headers)
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(example.headers.authorization!)![1]!
      const request = canonicalRequest({
        method: example.method,
        uri: canonicalUri(percentDecode(example.rawPath, false)),
        query: canonicalQuery(splitQuery(example.rawQuery), false),
        headers: canonicalHeaders(headers, signedHeaders.split(';')),
        signedHeaders,
        payloadHash: example.headers['x-amz-content-sha256']!,
      })
      expect(request).toBe(example.canonicalRequest)
      const sts = stringToSign(
        'AWS4-HMAC-SHA256',
        '20130524T000000Z',
        '20130524/us-east-1/s3/aws4_request',
        sha(request)
      )
      expect(sts).toBe(example.stringToSign)
    })
  }

  it(docs.presigned.name, () => {
    const example = docs.presigned
    const request = canonicalRequest({
      method: 'GET',
      uri: canonicalUri(percentDecode(example.rawPath, false)),
      query: canonicalQuery(splitQuery(example.rawQuery), false, (n) => n === 'X-Amz-Signature'),
      headers: canonicalHeaders(new Headers(example.headers), ['host']),
      signedHeaders: 'host',
      payloadHash: 'UNSIGNED-PAYLOAD',
    })
    expect(request).toBe(example.canonicalRequest)
  })

  it("smithy-rs suite get-query-plus: a literal '+' in the query signs as %2B", () => {
    const expected = fixture('smithy-rs', 'get-query-plus', 'header-canonical-request.txt').replace(/\n$/, '')
    const request = canonicalRequest({
      method: 'GET',
      uri: '/',
      query: canonicalQuery(splitQuery('c+d'), false),
      headers: canonicalHeaders(
        new Headers({ host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' }),
        ['host', 'x-amz-date']
      ),
      signedHeaders: 'host;x-amz-date',
      payloadHash: EMPTY_SHA256,
    })
    expect(request).toBe(expected)
  })
})
