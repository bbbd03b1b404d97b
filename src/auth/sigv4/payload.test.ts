import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { nodePlatform } from '../../platform/node.js'
import { S3Error } from '../../s3/errors.js'
import { docs } from '../../../test/fixtures/sigv4/docs.js'
import {
  collect,
  drain,
  encodeAwsChunked,
  sha256Hex,
  signingKeyOf,
  sliced,
} from '../../../test/fixtures/sigv4/helpers.js'
import { stripAwsChunked, verifyPayload } from './payload.js'
import { verifyRequest, type PayloadMode, type SigV4Request, type VerifiedRequest } from './verify.js'

const SEED = 'c0ffee'.padEnd(64, '0')
const KEY = signingKeyOf('secret', '20240301', 'us-east-1', 's3')
const SIGNING = {
  key: new Uint8Array(KEY),
  amzDate: '20240301T000000Z',
  scope: '20240301/us-east-1/s3/aws4_request',
  seedSignature: SEED,
}
const SIGNER = { key: KEY, amzDate: SIGNING.amzDate, scope: SIGNING.scope, seed: SEED }

function verified(payload: PayloadMode, contentSha256?: string): VerifiedRequest {
  return {
    credential: { accessKeyId: 'AK', secretAccessKey: 'secret', principal: null },
    path: '/bucket/key',
    payload,
    presigned: false,
    scope: { accessKeyId: 'AK', date: '20240301', region: 'us-east-1', service: 's3', scope: SIGNING.scope },
    signing: SIGNING,
    ...(contentSha256 ? { contentSha256 } : {}),
  }
}

function req(headers: Record<string, string>): SigV4Request {
  return { method: 'PUT', rawPath: '/bucket/key', rawQuery: '', headers: new Headers(headers) }
}

const crc32b64 = (data: Uint8Array) => {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(crc32(data) >>> 0)
  return out.toString('base64')
}

const DATA = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 31) % 251))

describe('signed SHA-256 payload', () => {
  it('passes the body through when the hash matches', async () => {
    const p = verifyPayload(
      sliced(DATA, 999),
      verified('sha256', sha256Hex(DATA)),
      req({ 'content-length': String(DATA.length) }),
      nodePlatform
    )
    expect(p.contentLength).toBe(DATA.length)
    expect(await collect(p.body)).toEqual(DATA)
    expect(await p.checksum).toBeUndefined()
  })

  it('a mismatch → XAmzContentSHA256Mismatch, and the last piece is never delivered', async () => {
    const tampered = Buffer.from(DATA)
    tampered[5] = tampered[5]! ^ 1
    const p = verifyPayload(sliced(tampered, 1), verified('sha256', sha256Hex(DATA)), req({}), nodePlatform)
    const result = await drain(p.body)
    const err = result.error as S3Error
    expect(err.code).toBe('XAmzContentSHA256Mismatch')
    expect(err.fields).toEqual({
      ClientComputedContentSHA256: sha256Hex(DATA),
      S3ComputedContentSHA256: sha256Hex(tampered),
    })
    expect(result.bytes).toBe(DATA.length - 1)
    await expect(p.checksum).rejects.toBe(err)
  })

  it('an empty body against the empty hash', async () => {
    const p = verifyPayload(
      sliced(Buffer.alloc(0), 1),
      verified('sha256', sha256Hex('')),
      req({ 'content-length': '0' }),
      nodePlatform
    )
    expect((await collect(p.body)).length).toBe(0)
  })
})

describe('UNSIGNED-PAYLOAD', () => {
  it('passes through, skipping empty pieces', async () => {
    async function* source() {
      yield new Uint8Array(0)
      yield DATA.subarray(0, 10)
      yield new Uint8Array(0)
      yield DATA.subarray(10)
    }
    const p = verifyPayload(source(), verified('unsigned'), req({}), nodePlatform)
    expect(p.contentLength).toBeUndefined()
    expect(await collect(p.body)).toEqual(DATA)
  })

  it('a short body → IncompleteBody without delivering the last piece', async () => {
    const p = verifyPayload(
      sliced(DATA, 1000),
      verified('unsigned'),
      req({ 'content-length': String(DATA.length + 1) }),
      nodePlatform
    )
    const result = await drain(p.body)
    expect((result.error as S3Error).code).toBe('IncompleteBody')
    expect(result.bytes).toBe(DATA.length - 1000)
  })

  it('a long body → IncompleteBody before the excess is delivered', async () => {
    const p = verifyPayload(
      sliced(DATA, 1000),
      verified('unsigned'),
      req({ 'content-length': '4500' }),
      nodePlatform
    )
    const result = await drain(p.body)
    expect((result.error as S3Error).code).toBe('IncompleteBody')
    expect(result.bytes).toBeLessThanOrEqual(4500)
  })

  it('with Content-MD5 and a checksum header', async () => {
    const headers = {
      'content-md5': createHash('md5').update(DATA).digest('base64'),
      'x-amz-checksum-crc32': crc32b64(DATA),
    }
    const p = verifyPayload(sliced(DATA, 777), verified('unsigned'), req(headers), nodePlatform)
    expect(await collect(p.body)).toEqual(DATA)
    expect(await p.checksum).toEqual({ algorithm: 'CRC32', value: crc32b64(DATA) })
  })

  it('a malformed Content-MD5 is refused before the body is read', () => {
    let touched = false
    async function* source() {
      touched = true
      yield DATA
    }
    expect(() =>
      verifyPayload(source(), verified('unsigned'), req({ 'content-md5': 'nope' }), nodePlatform)
    ).toThrow(expect.objectContaining({ code: 'InvalidDigest' }))
    expect(touched).toBe(false)
  })
})

describe('AWS documentation aws-chunked examples through verifyRequest + verifyPayload', () => {
  const at = {
    lookup: async (id: string) => ({ ...docs.credentials, accessKeyId: id, principal: null }),
    platform: nodePlatform,
    now: new Date(docs.now),
  }

  function wire(example: typeof docs.streaming, trailer = ''): Buffer {
    const parts: Buffer[] = []
    for (const chunk of example.chunks) {
      parts.push(Buffer.from(`${chunk.size.toString(16)};chunk-signature=${chunk.signature}\r\n`))
      if (chunk.size > 0) parts.push(Buffer.alloc(chunk.size, 'a'), Buffer.from('\r\n'))
    }
    parts.push(Buffer.from(trailer + '\r\n'))
    return Buffer.concat(parts)
  }

  it.each([1, 64, 8192, 100_000])('STREAMING-AWS4-HMAC-SHA256-PAYLOAD in %i-byte pieces', async (slice) => {
    const r = { ...docs.streaming, headers: new Headers(docs.streaming.headers) }
    const v = await verifyRequest(r, at)
    const p = verifyPayload(sliced(wire(docs.streaming), slice), v, r, nodePlatform)
    expect(p.contentLength).toBe(66560)
    expect(await collect(p.body)).toEqual(Buffer.alloc(66560, 'a'))
  })

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: the trailed CRC32C is verified and reported', async () => {
    const e = docs.streamingTrailer
    const r = { ...e, headers: new Headers(e.headers) }
    const v = await verifyRequest(r, at)
    const trailer = `${e.trailer.join(':')}\r\nx-amz-trailer-signature:${e.trailerSignature}\r\n`
    const p = verifyPayload(sliced(wire(e, trailer), 5000), v, r, nodePlatform)
    expect((await collect(p.body)).length).toBe(66560)
    expect(await p.checksum).toEqual({ algorithm: 'CRC32C', value: 'sOO8/Q==' })
  })
})

describe('aws-chunked bodies', () => {
  const chunkedHeaders = (extra: Record<string, string> = {}) => ({
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(DATA.length),
    ...extra,
  })

  it('signed chunks with a signed CRC32 trailer, in 1-byte pieces', async () => {
    const body = encodeAwsChunked(DATA, {
      chunkSize: 8192,
      signer: SIGNER,
      trailers: [['x-amz-checksum-crc32', crc32b64(DATA)]],
    })
    const p = verifyPayload(
      sliced(body, 1),
      verified('streaming-signed-trailer'),
      req(chunkedHeaders({ 'x-amz-trailer': 'x-amz-checksum-crc32' })),
      nodePlatform
    )
    expect(await collect(p.body)).toEqual(DATA)
    expect(await p.checksum).toEqual({ algorithm: 'CRC32', value: crc32b64(DATA) })
  })

  it('is recognised by x-amz-content-sha256 alone, and Content-Encoding may list other codings', async () => {
    const body = encodeAwsChunked(DATA, { chunkSize: 5000 })
    for (const encoding of [undefined, 'aws-chunked,gzip', 'gzip, aws-chunked']) {
      const headers: Record<string, string> = { 'x-amz-decoded-content-length': String(DATA.length) }
      if (encoding) headers['content-encoding'] = encoding
      const p = verifyPayload(
        sliced(body, 3000),
        verified('streaming-unsigned-trailer'),
        req(headers),
        nodePlatform
      )
      expect(await collect(p.body)).toEqual(DATA)
    }
    expect(stripAwsChunked('aws-chunked,gzip')).toBe('gzip')
    expect(stripAwsChunked('gzip, aws-chunked, br')).toBe('gzip,br')
    expect(stripAwsChunked('aws-chunked')).toBeUndefined()
    expect(stripAwsChunked(null)).toBeUndefined()
  })

  it('a missing x-amz-decoded-content-length → MissingContentLength; a bad one → InvalidArgument', () => {
    expect(() =>
      verifyPayload(
        sliced(DATA, 1),
        verified('streaming-signed'),
        req({ 'content-encoding': 'aws-chunked' }),
        nodePlatform
      )
    ).toThrow(expect.objectContaining({ code: 'MissingContentLength' }))
    expect(() =>
      verifyPayload(
        sliced(DATA, 1),
        verified('streaming-signed'),
        req({ 'x-amz-decoded-content-length': '-1' }),
        nodePlatform
      )
    ).toThrow(expect.objectContaining({ code: 'InvalidArgument' }))
  })

  it('a decoded length other than declared → IncompleteBody', async () => {
    const body = encodeAwsChunked(DATA, { chunkSize: 4096, signer: SIGNER })
    for (const declared of [DATA.length + 1, DATA.length - 1]) {
      const headers = chunkedHeaders({ 'x-amz-decoded-content-length': String(declared) })
      const result = await drain(
        verifyPayload(sliced(body, 1024), verified('streaming-signed'), req(headers), nodePlatform).body
      )
      expect((result.error as S3Error).code).toBe('IncompleteBody')
      expect(result.bytes).toBeLessThan(Math.min(declared, DATA.length))
    }
  })

  it('with Content-MD5 over the decoded bytes', async () => {
    const body = encodeAwsChunked(DATA, { chunkSize: 4096, signer: SIGNER })
    const headers = chunkedHeaders({ 'content-md5': createHash('md5').update(DATA).digest('base64') })
    expect(
      await collect(
        verifyPayload(sliced(body, 100), verified('streaming-signed'), req(headers), nodePlatform).body
      )
    ).toEqual(DATA)
  })

  it('more than a few megabytes stream through in constant memory', async () => {
    const big = Buffer.alloc(8 << 20, 0x5a)
    const body = encodeAwsChunked(big, { chunkSize: 65536, signer: SIGNER })
    const headers = chunkedHeaders({ 'x-amz-decoded-content-length': String(big.length) })
    const result = await drain(
      verifyPayload(sliced(body, 16384), verified('streaming-signed'), req(headers), nodePlatform).body
    )
    expect(result).toEqual({ bytes: big.length })
  })
})

/**
 * Whatever fails, a consumer that writes what it receives must not end up with the complete body:
 * the last piece is held back until every check has passed.
 */
describe('the complete body is never delivered when verification fails', () => {
  const trailerHeaders = {
    'x-amz-decoded-content-length': String(DATA.length),
    'x-amz-trailer': 'x-amz-checksum-crc32',
  }
  const cases: [string, PayloadMode, Buffer, Record<string, string>, string][] = [
    [
      'bad signature on the last data chunk',
      'streaming-signed',
      encodeAwsChunked(DATA, {
        chunkSize: 7000,
        signer: SIGNER,
        tamperChunk: { index: 2, signature: '0'.repeat(64) },
      }),
      { 'x-amz-decoded-content-length': String(DATA.length) },
      'SignatureDoesNotMatch',
    ],
    [
      'bad signature on the final empty chunk',
      'streaming-signed',
      encodeAwsChunked(DATA, {
        chunkSize: 7000,
        signer: SIGNER,
        tamperChunk: { index: 3, signature: '0'.repeat(64) },
      }),
      { 'x-amz-decoded-content-length': String(DATA.length) },
      'SignatureDoesNotMatch',
    ],
    [
      'bad trailer signature',
      'streaming-signed-trailer',
      encodeAwsChunked(DATA, {
        chunkSize: 7000,
        signer: SIGNER,
        trailers: [['x-amz-checksum-crc32', crc32b64(DATA)]],
        tamperTrailer: 'f'.repeat(64),
      }),
      trailerHeaders,
      'SignatureDoesNotMatch',
    ],
    [
      'missing trailer signature',
      'streaming-signed-trailer',
      encodeAwsChunked(DATA, {
        chunkSize: 7000,
        signer: SIGNER,
        trailers: [['x-amz-checksum-crc32', crc32b64(DATA)]],
        omitTrailerSignature: true,
      }),
      trailerHeaders,
      'SignatureDoesNotMatch',
    ],
    [
      'wrong signed trailer checksum',
      'streaming-signed-trailer',
      encodeAwsChunked(DATA, {
        chunkSize: 7000,
        signer: SIGNER,
        trailers: [['x-amz-checksum-crc32', 'AAAAAA==']],
      }),
      trailerHeaders,
      'BadDigest',
    ],
    [
      'wrong unsigned trailer checksum',
      'streaming-unsigned-trailer',
      encodeAwsChunked(DATA, { chunkSize: 7000, trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] }),
      trailerHeaders,
      'BadDigest',
    ],
    [
      'declared trailer missing',
      'streaming-unsigned-trailer',
      encodeAwsChunked(DATA, { chunkSize: 7000 }),
      trailerHeaders,
      'InvalidRequest',
    ],
    [
      'wrong checksum header',
      'streaming-unsigned-trailer',
      encodeAwsChunked(DATA, { chunkSize: 7000 }),
      {
        'x-amz-decoded-content-length': String(DATA.length),
        'x-amz-checksum-sha256': createHash('sha256').update('x').digest('base64'),
      },
      'BadDigest',
    ],
    [
      'body cut short',
      'streaming-signed',
      encodeAwsChunked(DATA, { chunkSize: 7000, signer: SIGNER }).subarray(0, 20_300),
      { 'x-amz-decoded-content-length': String(DATA.length) },
      'IncompleteBody',
    ],
  ]

  for (const [name, mode, body, headers, code] of cases) {
    it.each([1, 333, 7000, 1 << 20])(`${name} → ${code} (%i-byte pieces)`, async (slice) => {
      const p = verifyPayload(sliced(body, slice), verified(mode), req(headers), nodePlatform)
      const result = await drain(p.body)
      expect(result.error).toBeInstanceOf(S3Error)
      expect((result.error as S3Error).code).toBe(code)
      expect(result.bytes).toBeLessThan(DATA.length)
      await expect(p.checksum).rejects.toBe(result.error)
    })
  }
})

describe('the checksum promise', () => {
  it('rejects when the consumer abandons the body', async () => {
    const headers = { 'x-amz-checksum-crc32': crc32b64(DATA) }
    const p = verifyPayload(sliced(DATA, 1000), verified('unsigned'), req(headers), nodePlatform)
    for await (const _ of p.body) break
    await expect(p.checksum).rejects.toThrow('not fully consumed')
  })

  it('is not an unhandled rejection when nobody awaits it', async () => {
    const p = verifyPayload(sliced(DATA, 1000), verified('sha256', '0'.repeat(64)), req({}), nodePlatform)
    await drain(p.body)
    // Reaching here without vitest reporting an unhandled rejection is the assertion.
  })
})
