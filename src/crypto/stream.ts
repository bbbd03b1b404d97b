/**
 * @module crypto/stream
 * Async-generator adapters between plaintext and stored bytes. Memory stays O(one segment) (plus, for
 * a whole-object read, the trailer, which is at most 40·10000 + 44 bytes): bodies are never buffered.
 *
 * Encryptors hold back the last segment (and the trailer) until the plaintext source has ended
 * normally, so a source that fails at its very end (a bad chunk signature, a checksum mismatch) leaves
 * the upstream write short of its announced length and its error reaches the caller unchanged.
 * Decryptors release a plaintext byte only after its segment's tag has verified, and throw rather
 * than end early or late: a caller that sees the generator finish has received exactly the right bytes.
 */
import type { ByteRange } from '../backend/types.js'
import type { ByteSource, Platform } from '../platform/types.js'
import { EMPTY } from './bytes.js'
import type { OpenedEnvelope } from './envelope.js'
import { IntegrityError, LengthMismatchError } from './errors.js'
import {
  FOOTER_SIZE,
  MAX_PARTS,
  MAX_SEGMENTS_PER_PART,
  SEGMENT_SIZE,
  bodyStoredLength,
  maxTrailerLength,
  partListProblem,
  partStoredLength,
  placeParts,
  segmentCount,
  segmentSpans,
  storedSize as canonicalStoredSize,
  type PartSpec,
  type SegmentSpan,
} from './format.js'
import { openSegment, sealSegment, type ObjectKey } from './segments.js'
import { decodeFooter, decodeTrailer, encodeTrailer } from './trailer.js'

export { decodeTrailer, encodeTrailer }

/**
 * Reads exact byte counts from a ByteSource whatever its chunking. Results may be views into the
 * source's chunks (no copy when a chunk holds the whole request), valid until the next read.
 */
class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array>
  #chunk: Uint8Array = EMPTY
  #offset = 0
  #finished = false
  /** Bytes handed out so far. */
  position = 0

  constructor(source: ByteSource) {
    this.#iterator = source[Symbol.asyncIterator]()
  }

  /** Makes sure a non-empty chunk is loaded; false at the end of the source. */
  async #fill(): Promise<boolean> {
    while (this.#offset >= this.#chunk.byteLength) {
      if (this.#finished) return false
      const next = await this.#iterator.next()
      if (next.done) {
        this.#finished = true
        this.#chunk = EMPTY
        this.#offset = 0
        return false
      }
      this.#chunk = next.value
      this.#offset = 0
    }
    return true
  }

  /** Reads `length` bytes; fewer only when the source ends first. */
  async read(length: number): Promise<Uint8Array> {
    if (length === 0 || !(await this.#fill())) return EMPTY
    if (this.#chunk.byteLength - this.#offset >= length) {
      const out = this.#chunk.subarray(this.#offset, this.#offset + length)
      this.#offset += length
      this.position += length
      return out
    }
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length && (await this.#fill())) {
      const take = Math.min(length - filled, this.#chunk.byteLength - this.#offset)
      out.set(this.#chunk.subarray(this.#offset, this.#offset + take), filled)
      this.#offset += take
      filled += take
    }
    this.position += filled
    return filled === length ? out : out.subarray(0, filled)
  }

  /** True when the source has no more bytes (empty chunks are skipped). */
  async atEnd(): Promise<boolean> {
    return !(await this.#fill())
  }

  /** Bytes already pulled from the source but not handed out. */
  get buffered(): number {
    return this.#chunk.byteLength - this.#offset
  }

  /** Releases the source (e.g. an upstream connection) if it was not read to its end. Idempotent. */
  async close(): Promise<void> {
    if (this.#finished) return
    this.#finished = true
    this.#chunk = EMPTY
    try {
      await this.#iterator.return?.()
    } catch {
      // A failure while cleaning up the source must not replace the error (or result) we already have.
    }
  }
}

function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new RangeError(`part number must be an integer in 1..${MAX_PARTS}`)
  }
}

/** Seals `source` as the segments of one part, holding the last one back until the source has ended. */
async function* sealPart(
  platform: Platform,
  key: ObjectKey,
  partNumber: number,
  plainLength: number,
  source: ByteSource
): AsyncGenerator<Uint8Array> {
  assertPartNumber(partNumber)
  const count = segmentCount(plainLength)
  if (count > MAX_SEGMENTS_PER_PART) throw new RangeError('part too large')
  const reader = new ByteReader(source)
  const expectEnd = async () => {
    if (!(await reader.atEnd())) throw new LengthMismatchError(plainLength, reader.position + reader.buffered)
  }
  try {
    for (let index = 0; index < count; index++) {
      const want = Math.min(SEGMENT_SIZE, plainLength - index * SEGMENT_SIZE)
      let plain = await reader.read(want)
      if (plain.byteLength < want) throw new LengthMismatchError(plainLength, reader.position)
      const last = index === count - 1
      if (last) {
        // Our own copy: we read on past it to see the source end, and a source may recycle its buffers.
        plain = plain.slice()
        await expectEnd()
      }
      yield await sealSegment(platform, key, partNumber, index, last, plain)
    }
    if (count === 0) await expectEnd()
  } finally {
    await reader.close()
  }
}

/**
 * Encrypts a single-PUT body: part 1's segments, then the trailer.
 * @returns exactly storedSize(plainLength) bytes across its chunks
 * @throws LengthMismatchError when `source` yields more or fewer than `plainLength` bytes; any error of
 *   `source` itself propagates unchanged, before the last segment is produced
 */
export async function* encryptObject(
  platform: Platform,
  env: OpenedEnvelope,
  plainLength: number,
  source: ByteSource
): AsyncGenerator<Uint8Array> {
  const stored = canonicalStoredSize(plainLength) // validates the length before anything is read
  yield* sealPart(platform, env, 1, plainLength, source)
  const body = partStoredLength(plainLength)
  const trailer = await encodeTrailer(platform, env, [{ partNumber: 1, plainLength }], body)
  if (body + trailer.byteLength !== stored) throw new Error('internal: stored size mismatch')
  yield trailer
}

/**
 * Encrypts one multipart part as its own run of segments (no trailer; see encodeTrailer).
 * @returns exactly partStoredLength(plainLength) bytes across its chunks
 */
export function encryptPart(
  platform: Platform,
  env: OpenedEnvelope,
  partNumber: number,
  plainLength: number,
  source: ByteSource
): AsyncGenerator<Uint8Array> {
  return sealPart(platform, env, partNumber, plainLength, source)
}

/**
 * Opens consecutive stored segments from `reader` and yields their plaintext, trimmed to `range`.
 * With `closeAfterLast`, the source is released before the final piece is yielded.
 */
async function* openSpans(
  platform: Platform,
  key: ObjectKey,
  spans: Iterable<SegmentSpan>,
  reader: ByteReader,
  range: ByteRange,
  closeAfterLast: boolean
): AsyncGenerator<Uint8Array> {
  for (const span of spans) {
    const stored = await reader.read(span.storedLength)
    if (stored.byteLength < span.storedLength) {
      throw new IntegrityError('truncated', `segment ${span.index} of part ${span.partNumber} is incomplete`)
    }
    const plain = await openSegment(platform, key, span.partNumber, span.index, span.last, stored)
    const from = Math.max(0, range.start - span.plainOffset)
    const to = Math.min(span.plainLength, range.end - span.plainOffset + 1)
    if (closeAfterLast && span.plainOffset + span.plainLength > range.end) await reader.close()
    if (to > from) yield plain.subarray(from, to)
  }
}

function checkedParts(parts: readonly PartSpec[]): PartSpec[] {
  const problem = partListProblem(parts)
  if (problem) throw new RangeError(problem)
  return parts.map(({ partNumber, plainLength }) => ({ partNumber, plainLength }))
}

/**
 * Decrypts a plaintext range of an object with the given part layout (from its manifest, or
 * `[{ partNumber: 1, plainLength: size }]` for a single PUT). `source` yields the stored bytes from
 * storedRangeFor(placeParts(parts), range).storedStart on; bytes after the last needed segment are
 * not read (the source is returned early).
 * @returns exactly range.end − range.start + 1 verified plaintext bytes
 * @throws IntegrityError when a segment does not verify or the source ends early
 */
export async function* decryptRange(
  platform: Platform,
  key: ObjectKey,
  parts: readonly PartSpec[],
  range: ByteRange,
  source: ByteSource
): AsyncGenerator<Uint8Array> {
  const spans = segmentSpans(placeParts(checkedParts(parts)), range)
  const reader = new ByteReader(source)
  try {
    yield* openSpans(platform, key, spans, reader, range, true)
  } finally {
    await reader.close()
  }
}

/**
 * Decrypts a plaintext range of a single-PUT object (part 1 on the 64 KiB grid). `source` yields the
 * stored bytes from singlePartStoredRange(range).storedStart on; extra bytes after are ignored and not read.
 * Touching the object's final segment verifies its last-of-part flag, so a truncated object cannot
 * pass it off as complete.
 * @returns exactly range.end − range.start + 1 verified plaintext bytes
 * @throws IntegrityError when a touched segment does not verify or the source ends early
 */
export function decryptSinglePartRange(
  platform: Platform,
  env: OpenedEnvelope,
  plainSize: number,
  range: ByteRange,
  source: ByteSource
): AsyncGenerator<Uint8Array> {
  // Part boundaries of a multipart object are only known from its manifest: use decryptRange with them.
  if (env.multipart) throw new RangeError('multipart object: decrypt ranges with decryptRange and its manifest parts')
  return decryptRange(platform, env, [{ partNumber: 1, plainLength: plainSize }], range, source)
}

/**
 * Decrypts a whole stored object, verifying every segment, the last-of-part flags, the trailer
 * (footer, zero padding, manifest) and that nothing follows it. Plaintext is yielded segment by segment
 * as each verifies, except the last piece, which waits for the trailer; if anything fails, the
 * generator throws instead of finishing, and the consumer never holds the complete plaintext.
 * @param parts the part layout; needed for multipart objects (from decodeTrailer, one suffix read),
 *   defaults to a single part 1 for single-PUT objects. The manifest must list exactly these parts.
 * @throws IntegrityError when anything does not verify or the sizes disagree
 */
export async function* decryptObject(
  platform: Platform,
  env: OpenedEnvelope,
  plainSize: number,
  storedSize: number,
  source: ByteSource,
  parts?: readonly PartSpec[]
): AsyncGenerator<Uint8Array> {
  if (canonicalStoredSize(plainSize) !== storedSize) {
    throw new IntegrityError('size', 'stored size does not match the plaintext size')
  }
  if (!parts && env.multipart) throw new RangeError('multipart object: pass its parts (from decodeTrailer)')
  const layout = checkedParts(parts ?? [{ partNumber: 1, plainLength: plainSize }])
  if (layout.reduce((sum, part) => sum + part.plainLength, 0) !== plainSize) {
    throw new RangeError('parts do not add up to the plaintext size')
  }
  const trailerLength = storedSize - bodyStoredLength(layout)
  if (trailerLength < FOOTER_SIZE || trailerLength > maxTrailerLength(plainSize)) {
    throw new RangeError('parts do not fit the stored size')
  }

  const reader = new ByteReader(source)
  // The final piece is held back until the trailer has verified: a consumer must never receive the
  // whole plaintext of an object whose manifest or footer turns out to be tampered with.
  let held: Uint8Array | undefined
  try {
    if (plainSize > 0) {
      const whole = { start: 0, end: plainSize - 1 }
      for await (const piece of openSpans(platform, env, segmentSpans(placeParts(layout), whole), reader, whole, false)) {
        if (held) yield held
        held = piece
      }
    }
    const trailer = await reader.read(trailerLength)
    if (trailer.byteLength < trailerLength) throw new IntegrityError('truncated', 'trailer is incomplete')
    // The layout fixes the trailer's length; a footer claiming another is tampering, not a short read.
    const footer = decodeFooter(trailer.subarray(trailer.byteLength - FOOTER_SIZE))
    if (footer.manifestStoredLength + footer.paddingLength + FOOTER_SIZE !== trailerLength) {
      throw new IntegrityError('footer', 'footer disagrees with the object layout')
    }
    const manifest = await decodeTrailer(platform, env, trailer, storedSize)
    const agrees =
      manifest.parts.length === layout.length &&
      manifest.parts.every(
        (part, i) => part.partNumber === layout[i]!.partNumber && part.plainLength === layout[i]!.plainLength
      )
    if (!agrees) throw new IntegrityError('manifest', 'manifest parts disagree with the layout read')
    if (!(await reader.atEnd())) throw new IntegrityError('trailing-data', 'bytes follow the footer')
  } finally {
    await reader.close()
  }
  if (held) yield held
}
