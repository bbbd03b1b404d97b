/**
 * @module auth/sigv4/chunked
 * Streaming decoder for the aws-chunked content encoding:
 *
 *     hex-size[;chunk-signature=sig]\r\n <size bytes> \r\n ... 0[;chunk-signature=sig]\r\n
 *     [name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
 *
 * It yields the object bytes as subarrays of the input (no copies), verifying each chunk signature
 * when the chunk ends and the trailer signature when the trailer ends. Input may be split anywhere,
 * down to single bytes. Only framing lines are buffered, and they are bounded, so garbage input cannot
 * make it hold more than a few kilobytes.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
 */
import type { ByteSource, IncrementalHash, Platform } from '../../platform/types.js'
import { S3Error } from '../../s3/errors.js'
import { fromHex, signedBytes, toHex } from './bytes.js'
import { EMPTY_SHA256, stringToSign } from './canonical.js'
import type { StreamingSigning } from './verify.js'

export const CHUNK_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD'
export const TRAILER_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER'
export const TRAILER_SIGNATURE = 'x-amz-trailer-signature'

/** Longest framing line accepted (a signed chunk header is under 100 bytes). */
export const MAX_LINE_BYTES = 4096
/** Most trailing header lines accepted. */
export const MAX_TRAILER_LINES = 32

export interface AwsChunkedOptions {
  platform: Platform
  /** Chunk signatures are required and checked against this chain (the signed STREAMING-* forms). */
  signing?: StreamingSigning
  /** Whether trailing headers may follow the final chunk (the *-TRAILER forms). */
  trailers: boolean
  /**
   * Receives the trailing headers (lowercase names, trimmed values; never the trailer signature) once
   * the trailer is complete and, when signed, verified. Called exactly once on success.
   */
  onTrailers?: (trailers: Map<string, string>) => void
}

/**
 * String to sign of one chunk: it chains the previous signature and hashes the chunk's bytes.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
export function chunkStringToSign(
  signing: StreamingSigning,
  previousSignature: string,
  chunkSha256Hex: string
): string {
  return stringToSign(
    CHUNK_ALGORITHM,
    signing.amzDate,
    signing.scope,
    previousSignature,
    EMPTY_SHA256,
    chunkSha256Hex
  )
}

/**
 * String to sign of the trailer: it chains the final chunk's signature and hashes the trailing headers,
 * each written `name:value\n`.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
 */
export function trailerStringToSign(
  signing: StreamingSigning,
  previousSignature: string,
  trailerSha256Hex: string
): string {
  return stringToSign(TRAILER_ALGORITHM, signing.amzDate, signing.scope, previousSignature, trailerSha256Hex)
}

function malformed(detail: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}.`)
}

function signatureMismatch(): S3Error {
  return new S3Error('SignatureDoesNotMatch')
}

/** Accumulates one CRLF-terminated line across input pieces, up to a bound. */
class LineReader {
  readonly #buffer = new Uint8Array(MAX_LINE_BYTES + 2)
  #length = 0

  get empty(): boolean {
    return this.#length === 0
  }

  /**
   * Consumes bytes of `input` from `pos` up to and including the next LF. Returns the position after
   * what was consumed and the completed line (without CRLF), or undefined if the line continues.
   */
  feed(input: Uint8Array, pos: number): { pos: number; line?: string } {
    const lf = input.indexOf(0x0a, pos)
    const end = lf < 0 ? input.length : lf + 1
    const take = end - pos
    if (this.#length + take > this.#buffer.length) throw malformed('framing line too long')
    this.#buffer.set(input.subarray(pos, end), this.#length)
    this.#length += take
    if (lf < 0) return { pos: end }
    if (this.#length < 2 || this.#buffer[this.#length - 2] !== 0x0d)
      throw malformed('line not terminated by CRLF')
    const bytes = this.#buffer.subarray(0, this.#length - 2)
    this.#length = 0
    // Framing is ASCII; reading bytes as Latin-1 keeps anything else visible for the error checks.
    let line = ''
    for (let i = 0; i < bytes.length; i++) line += String.fromCharCode(bytes[i]!)
    return { pos: end, line }
  }
}

const CHUNK_HEADER = /^([0-9a-fA-F]{1,16})((?:;[^;]*)*)$/

interface ChunkHeader {
  size: number
  signature?: string
}

function parseChunkHeader(line: string): ChunkHeader {
  const m = CHUNK_HEADER.exec(line)
  if (!m) throw malformed('invalid chunk size line')
  const size = parseInt(m[1]!, 16)
  if (!Number.isSafeInteger(size)) throw malformed('chunk size too large')
  const header: ChunkHeader = { size }
  for (const extension of m[2]!.split(';').slice(1)) {
    const eq = extension.indexOf('=')
    const name = (eq < 0 ? extension : extension.slice(0, eq)).trim()
    if (name === 'chunk-signature') {
      if (header.signature !== undefined) throw malformed('repeated chunk-signature')
      header.signature = extension.slice(eq + 1).trim()
    }
  }
  return header
}

type State = 'header' | 'data' | 'data-end' | 'trailer' | 'done'

/**
 * Decodes an aws-chunked body. Throws S3Error: SignatureDoesNotMatch for a missing or wrong chunk or
 * trailer signature, InvalidRequest for broken framing, IncompleteBody when the input ends early.
 */
export async function* decodeAwsChunked(
  source: ByteSource,
  opts: AwsChunkedOptions
): AsyncGenerator<Uint8Array, void, undefined> {
  const { platform, signing } = opts
  const line = new LineReader()
  let state: State = 'header'
  let remaining = 0
  let crlf = 0
  let chunkHash: IncrementalHash | undefined
  let chunkSignature: string | undefined
  let previousSignature = signing?.seedSignature ?? ''
  const trailers = new Map<string, string>()
  let trailerText = ''
  let trailerSignature: string | undefined

  const verifyChunk = async (sha256Hex: string): Promise<void> => {
    const provided = chunkSignature?.length === 64 ? fromHex(chunkSignature) : undefined
    if (!provided) throw signatureMismatch()
    const expected = await platform.hmacSha256(
      signing!.key,
      chunkStringToSign(signing!, previousSignature, sha256Hex)
    )
    if (!platform.timingSafeEqual(expected, provided)) throw signatureMismatch()
    previousSignature = toHex(expected)
  }

  const finishTrailer = async (): Promise<void> => {
    if (signing && opts.trailers && (trailers.size > 0 || trailerSignature !== undefined)) {
      const provided = trailerSignature?.length === 64 ? fromHex(trailerSignature) : undefined
      if (!provided) throw signatureMismatch()
      const hash = toHex(await platform.sha256(signedBytes(trailerText)))
      const expected = await platform.hmacSha256(
        signing.key,
        trailerStringToSign(signing, previousSignature, hash)
      )
      if (!platform.timingSafeEqual(expected, provided)) throw signatureMismatch()
    }
    opts.onTrailers?.(trailers)
  }

  const addTrailerLine = (text: string): void => {
    if (!opts.trailers) throw malformed('trailing headers are not allowed with this x-amz-content-sha256')
    // Anything after the trailer signature would not be covered by it.
    if (trailerSignature !== undefined) throw malformed('trailing header after x-amz-trailer-signature')
    const colon = text.indexOf(':')
    if (colon <= 0) throw malformed('invalid trailing header')
    const name = text.slice(0, colon).trim().toLowerCase()
    const value = text.slice(colon + 1).trim()
    if (name === TRAILER_SIGNATURE) {
      // Only the signed form has a trailer signature; the unsigned form has nothing to check it with.
      if (signing) trailerSignature = value
      return
    }
    if (trailers.has(name)) throw malformed(`repeated trailing header ${name}`)
    if (trailers.size >= MAX_TRAILER_LINES) throw malformed('too many trailing headers')
    trailers.set(name, value)
    trailerText += `${name}:${value}\n`
  }

  for await (const input of source) {
    let pos = 0
    while (pos < input.length) {
      switch (state) {
        case 'header': {
          const step = line.feed(input, pos)
          pos = step.pos
          if (step.line === undefined) break
          const header = parseChunkHeader(step.line)
          chunkSignature = header.signature
          if (signing && chunkSignature === undefined) throw signatureMismatch()
          if (header.size === 0) {
            if (signing) await verifyChunk(EMPTY_SHA256)
            state = 'trailer'
          } else {
            remaining = header.size
            chunkHash = signing ? platform.createHash('sha256') : undefined
            state = 'data'
          }
          break
        }
        case 'data': {
          const take = Math.min(remaining, input.length - pos)
          const piece = input.subarray(pos, pos + take)
          pos += take
          remaining -= take
          chunkHash?.update(piece)
          if (remaining === 0) state = 'data-end'
          yield piece
          break
        }
        case 'data-end': {
          if (input[pos] !== (crlf === 0 ? 0x0d : 0x0a)) throw malformed('chunk data not followed by CRLF')
          pos++
          if (++crlf < 2) break
          crlf = 0
          if (chunkHash) await verifyChunk(toHex(await chunkHash.digest()))
          chunkHash = undefined
          state = 'header'
          break
        }
        case 'trailer': {
          const step = line.feed(input, pos)
          pos = step.pos
          if (step.line === undefined) break
          if (step.line === '') {
            await finishTrailer()
            state = 'done'
          } else {
            addTrailerLine(step.line)
          }
          break
        }
        case 'done':
          throw malformed('data after the end of the body')
      }
    }
  }

  if (state === 'done') return
  // Some clients end the body right after the final chunk when they send no trailer; nothing is
  // unverified in that case (the final chunk's signature was checked), so it is accepted.
  if (state === 'trailer' && line.empty && trailers.size === 0 && trailerSignature === undefined) {
    await finishTrailer()
    return
  }
  throw new S3Error('IncompleteBody', 'The request body ended before the aws-chunked encoding was complete.')
}
