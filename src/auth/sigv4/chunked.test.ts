import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { nodePlatform } from '../../platform/node.js'
import { S3Error } from '../../s3/errors.js'
import { docs } from '../../../test/fixtures/sigv4/docs.js'
import {
  collect,
  drain,
  encodeAwsChunked,
  signingKeyOf,
  sliced,
  type ChunkSigner,
} from '../../../test/fixtures/sigv4/helpers.js'
import { MAX_LINE_BYTES, chunkStringToSign, decodeAwsChunked, type AwsChunkedOptions } from './chunked.js'
import type { StreamingSigning } from './verify.js'

const KEY = signingKeyOf(docs.credentials.secretAccessKey, '20130524', 'us-east-1', 's3')
const SCOPE = '20130524/us-east-1/s3/aws4_request'

function signingFor(seed: string): StreamingSigning {
  return { key: new Uint8Array(KEY), amzDate: '20130524T000000Z', scope: SCOPE, seedSignature: seed }
}

function signerFor(seed: string): ChunkSigner {
  return { key: KEY, amzDate: '20130524T000000Z', scope: SCOPE, seed }
}

/** The documentation's wire body: each chunk with its published signature, then the trailer if any. */
function docBody(example: typeof docs.streaming | typeof docs.streamingTrailer, trailer = ''): Buffer {
  const parts: Buffer[] = []
  for (const chunk of example.chunks) {
    parts.push(Buffer.from(`${chunk.size.toString(16)};chunk-signature=${chunk.signature}\r\n`))
    if (chunk.size > 0) parts.push(Buffer.alloc(chunk.size, chunk.byte), Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(trailer + '\r\n'))
  return Buffer.concat(parts)
}

const TRAILER =
  `${docs.streamingTrailer.trailer.join(':')}\r\n` +
  `x-amz-trailer-signature:${docs.streamingTrailer.trailerSignature}\r\n`

async function decodeAll(body: Uint8Array, opts: Partial<AwsChunkedOptions>, slice = 4096): Promise<Buffer> {
  return collect(decodeAwsChunked(sliced(body, slice), { platform: nodePlatform, trailers: false, ...opts }))
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    if (err instanceof S3Error) return err.code
    throw err
  }
  return 'no error'
}

describe('AWS documentation example: 64 KiB + 1 KiB of "a" with signed chunks', () => {
  const expected = Buffer.alloc(66560, 'a')

  it('the string to sign of the first chunk is the documented one', () => {
    const hash = createHash('sha256').update(Buffer.alloc(65536, 'a')).digest('hex')
    expect(hash).toBe('bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a')
    expect(
      chunkStringToSign(signingFor(docs.streaming.seedSignature), docs.streaming.seedSignature, hash)
    ).toBe(
      'AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n' +
        '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n' +
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n' +
        'bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a'
    )
  })

  it.each([1, 2, 7, 100, 65536, 66824, 1 << 20])(
    'decodes and verifies every chunk signature in %i-byte pieces',
    async (slice) => {
      const body = docBody(docs.streaming)
      expect(body.length).toBe(66824)
      expect(await decodeAll(body, { signing: signingFor(docs.streaming.seedSignature) }, slice)).toEqual(
        expected
      )
    }
  )

  it('the trailer variant: chunk signatures, trailer signature, and the CRC32C handed over', async () => {
    let trailers: Map<string, string> | undefined
    const body = docBody(docs.streamingTrailer, TRAILER)
    const out = await decodeAll(
      body,
      {
        signing: signingFor(docs.streamingTrailer.seedSignature),
        trailers: true,
        onTrailers: (t) => (trailers = t),
      },
      3
    )
    expect(out).toEqual(expected)
    expect([...trailers!]).toEqual([['x-amz-checksum-crc32c', 'sOO8/Q==']])
  })

  it('passes data through as subarrays of the input (no copies)', async () => {
    const body = docBody(docs.streaming)
    const inputs: Uint8Array[] = []
    async function* source() {
      for await (const piece of sliced(body, 10_000)) {
        inputs.push(piece)
        yield piece
      }
    }
    for await (const piece of decodeAwsChunked(source(), {
      platform: nodePlatform,
      trailers: false,
      signing: signingFor(docs.streaming.seedSignature),
    })) {
      expect(inputs.some((input) => input.buffer === piece.buffer)).toBe(true)
    }
  })
})

describe('signed chunk tampering → SignatureDoesNotMatch', () => {
  const e = docs.streaming
  const sigs = e.chunks.map((c) => c.signature)
  const chunk = (data: Buffer, sig: string) =>
    Buffer.concat([
      Buffer.from(`${data.length.toString(16)};chunk-signature=${sig}\r\n`),
      data,
      Buffer.from('\r\n'),
    ])
  const a64 = Buffer.alloc(65536, 'a')
  const a1 = Buffer.alloc(1024, 'a')
  const final = (sig: string) => Buffer.from(`0;chunk-signature=${sig}\r\n\r\n`)
  const good = docBody(e)

  it.each([
    [
      'a data byte changed',
      () => {
        const b = Buffer.from(good)
        b[30_000] = 0x62
        return b
      },
    ],
    [
      'a chunk signature changed',
      () => Buffer.from(good.toString('latin1').replace(sigs[1]!, '0'.repeat(64)), 'latin1'),
    ],
    [
      'a chunk signature missing',
      () => Buffer.from(good.toString('latin1').replace(`400;chunk-signature=${sigs[1]}`, '400'), 'latin1'),
    ],
    [
      'a chunk signature not hex',
      () => Buffer.from(good.toString('latin1').replace(sigs[1]!, 'z'.repeat(64)), 'latin1'),
    ],
    [
      "the final chunk's signature changed",
      () => Buffer.from(good.toString('latin1').replace(sigs[2]!, sigs[1]!), 'latin1'),
    ],
    ['chunks reordered', () => Buffer.concat([chunk(a1, sigs[1]!), chunk(a64, sigs[0]!), final(sigs[2]!)])],
    ['a chunk dropped', () => Buffer.concat([chunk(a64, sigs[0]!), final(sigs[2]!)])],
    [
      'a chunk appended',
      () =>
        Buffer.concat([
          chunk(a64, sigs[0]!),
          chunk(a1, sigs[1]!),
          chunk(Buffer.from('a'), sigs[2]!),
          final(sigs[2]!),
        ]),
    ],
    ['cut short with a forged final chunk', () => Buffer.concat([chunk(a64, sigs[0]!), final(sigs[1]!)])],
  ])('%s', async (_, build) => {
    expect(await codeOf(decodeAll(build(), { signing: signingFor(e.seedSignature) }, 999))).toBe(
      'SignatureDoesNotMatch'
    )
  })

  it('stops before yielding any data of a chunk after a bad one', async () => {
    const bad = Buffer.from(good.toString('latin1').replace(sigs[0]!, '0'.repeat(64)), 'latin1')
    const result = await drain(
      decodeAwsChunked(sliced(bad, 1000), {
        platform: nodePlatform,
        trailers: false,
        signing: signingFor(e.seedSignature),
      })
    )
    expect((result.error as S3Error).code).toBe('SignatureDoesNotMatch')
    expect(result.bytes).toBeLessThanOrEqual(65536)
  })
})

describe('signed trailer tampering', () => {
  const e = docs.streamingTrailer
  const good = docBody(e, TRAILER).toString('latin1')
  const opts = { signing: signingFor(e.seedSignature), trailers: true }
  const run = (text: string) => codeOf(decodeAll(Buffer.from(text, 'latin1'), opts, 513))

  it.each([
    ['the checksum changed', good.replace('sOO8/Q==', 'AAAAAA==')],
    ['a trailer added', good.replace('sOO8/Q==\r\n', 'sOO8/Q==\r\nx-amz-meta-extra:1\r\n')],
    ['the trailer dropped', good.replace('x-amz-checksum-crc32c:sOO8/Q==\r\n', '')],
    ['the trailer signature changed', good.replace(e.trailerSignature, e.seedSignature)],
    ['the trailer signature missing', good.replace(`x-amz-trailer-signature:${e.trailerSignature}\r\n`, '')],
  ])('%s → SignatureDoesNotMatch', async (_, text) => {
    expect(await run(text)).toBe('SignatureDoesNotMatch')
  })

  it('a trailing header after the signature → InvalidRequest', async () => {
    expect(await run(good.replace(/\r\n\r\n$/, '\r\nx-amz-meta-late:1\r\n\r\n'))).toBe('InvalidRequest')
  })

  it('a trailer on a body signed without trailers → InvalidRequest', async () => {
    const text = docBody(docs.streaming)
      .toString('latin1')
      .replace(/\r\n$/, 'x-amz-checksum-crc32:NSRBwg==\r\n\r\n')
    expect(
      await codeOf(
        decodeAll(Buffer.from(text, 'latin1'), { signing: signingFor(docs.streaming.seedSignature) })
      )
    ).toBe('InvalidRequest')
  })
})

describe('independently signed bodies of random shape', () => {
  // Deterministic PRNG so failures reproduce.
  let state = 42
  const random = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32

  for (let round = 0; round < 12; round++) {
    it(`round ${round}`, async () => {
      const size = Math.floor(random() * 50_000)
      const data = Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)))
      const chunkSize = 1 + Math.floor(random() * 9000)
      const slice = 1 + Math.floor(random() * 3000)
      const withTrailer = random() < 0.5
      const seed = createHash('sha256').update(String(round)).digest('hex')
      const trailers: [string, string][] | undefined = withTrailer
        ? [['x-amz-checksum-sha256', 'abc=']]
        : undefined
      const body = encodeAwsChunked(data, {
        chunkSize,
        signer: signerFor(seed),
        ...(trailers ? { trailers } : {}),
      })
      let got: Map<string, string> | undefined
      const out = await decodeAll(
        body,
        { signing: signingFor(seed), trailers: withTrailer, onTrailers: (t) => (got = t) },
        slice
      )
      expect(out).toEqual(data)
      expect(got?.size ?? 0).toBe(withTrailer ? 1 : 0)
    })
  }
})

describe('unsigned aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const body = '6\r\nhello \r\n6\r\nstream\r\n0\r\nx-amz-checksum-crc32:gtnkmQ==\r\n\r\n'

  it('decodes the SDK framing and hands over the trailer', async () => {
    let trailers: Map<string, string> | undefined
    const out = await decodeAll(Buffer.from(body), { trailers: true, onTrailers: (t) => (trailers = t) }, 1)
    expect(out.toString()).toBe('hello stream')
    expect(trailers?.get('x-amz-checksum-crc32')).toBe('gtnkmQ==')
  })

  it('accepts uppercase hex sizes and ignores chunk extensions', async () => {
    const text = `A;foo=bar\r\n0123456789\r\n0;chunk-signature=${'0'.repeat(64)}\r\n\r\n`
    expect((await decodeAll(Buffer.from(text), { trailers: true })).toString()).toBe('0123456789')
  })

  it('ignores a trailer signature it has nothing to check with', async () => {
    let trailers: Map<string, string> | undefined
    const text = `0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n\r\n`
    await decodeAll(Buffer.from(text), { trailers: true, onTrailers: (t) => (trailers = t) })
    expect([...trailers!.keys()]).toEqual(['x-amz-checksum-crc32'])
  })

  it('accepts a body that ends right after the final chunk when no trailer follows', async () => {
    expect((await decodeAll(Buffer.from('3\r\nabc\r\n0\r\n'), { trailers: true })).toString()).toBe('abc')
  })

  it('decodes an empty body', async () => {
    expect((await decodeAll(Buffer.from('0\r\n\r\n'), { trailers: false })).length).toBe(0)
  })
})

describe('malformed framing', () => {
  it.each([
    ['a size that is not hex', 'xyz\r\nabc\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a negative size', '-3\r\nabc\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a size over 16 hex digits', '00000000000000003\r\nabc\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a huge size', 'ffffffffffffffff\r\nabc\r\n', 'InvalidRequest'],
    ['data longer than its size', '3\r\nabcd\r\n0\r\n\r\n', 'InvalidRequest'],
    ['LF-only line endings', '3\nabc\n0\n\n', 'InvalidRequest'],
    ['data after the end', '3\r\nabc\r\n0\r\n\r\nextra', 'InvalidRequest'],
    [
      'a repeated trailer',
      '0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n',
      'InvalidRequest',
    ],
    ['a trailer line without colon', '0\r\nnot a header\r\n\r\n', 'InvalidRequest'],
    ['truncated inside data', '10\r\nabc', 'IncompleteBody'],
    ['truncated inside a size line', '3\r\nabc\r\n0', 'IncompleteBody'],
    ['truncated before the final chunk', '3\r\nabc\r\n', 'IncompleteBody'],
    ['truncated inside the trailer', '0\r\nx-amz-checksum-crc32:AAAAAA==\r\n', 'IncompleteBody'],
    ['an empty body', '', 'IncompleteBody'],
  ])('%s → %s', async (_, text, code) => {
    expect(await codeOf(decodeAll(Buffer.from(text), { trailers: true }, 2))).toBe(code)
  })

  it('refuses an endless line without buffering it', async () => {
    let fed = 0
    async function* garbage() {
      for (let i = 0; i < 1000; i++) {
        fed += 1024
        yield new Uint8Array(1024).fill(0x31)
      }
    }
    expect(
      await codeOf(collect(decodeAwsChunked(garbage(), { platform: nodePlatform, trailers: true })))
    ).toBe('InvalidRequest')
    expect(fed).toBeLessThanOrEqual(MAX_LINE_BYTES + 2048)
  })

  it('refuses an endless trailer', async () => {
    async function* trailers() {
      yield Buffer.from('0\r\n')
      for (let i = 0; i < 1000; i++) yield Buffer.from(`x-amz-meta-${i}:v\r\n`)
    }
    expect(
      await codeOf(collect(decodeAwsChunked(trailers(), { platform: nodePlatform, trailers: true })))
    ).toBe('InvalidRequest')
  })
})
