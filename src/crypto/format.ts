/**
 * @module crypto/format
 * Every constant of the s3veil v1 object format and all pure size/offset math: stored size as a
 * function of plaintext size (and its inverse, for LIST/HEAD), part placement, and the mapping of a
 * plaintext range to the segments (and stored bytes) that cover it. No I/O and no cryptography here,
 * so the numbers can be checked exhaustively. docs/format.md is the normative description.
 */
import type { ByteRange } from '../backend/types.js'

export const FORMAT_VERSION = 1

/** Plaintext bytes per segment; every segment but the last of a part is exactly this long. */
export const SEGMENT_SIZE = 65536
export const NONCE_SIZE = 12
export const TAG_SIZE = 16
/** A stored segment is nonce ‖ ciphertext ‖ tag. */
export const SEGMENT_OVERHEAD = NONCE_SIZE + TAG_SIZE
export const STORED_SEGMENT_SIZE = SEGMENT_SIZE + SEGMENT_OVERHEAD

export const KEY_SIZE = 32
export const OBJECT_ID_SIZE = 16
/** Wrapped data key: nonce ‖ AES-256-GCM(KEK, DEK) ‖ tag. */
export const WRAPPED_KEY_SIZE = NONCE_SIZE + KEY_SIZE + TAG_SIZE

/** S3's minimum size of every part but the last; it bounds how many parts an object of a given size can have. */
export const MIN_PART_SIZE = 5 * 1024 * 1024
/** S3's largest part number and part count. */
export const MAX_PARTS = 10000
/** u32 segment index within a part. */
export const MAX_SEGMENTS_PER_PART = 0xffffffff

export const FOOTER_SIZE = 32
export const FOOTER_MAGIC = 'S3VEIL'
/** Manifest plaintext: u64be totalPlaintext ‖ u32be partCount. */
export const MANIFEST_HEADER_SIZE = 12
/** Per part: u32be partNumber ‖ u64be plainLength. */
export const MANIFEST_RECORD_SIZE = 12

/**
 * Worst-case bytes each possible part adds to an object: one extra partial segment at its boundary
 * plus its manifest record. See storedSize and docs/format.md for the proof.
 */
export const PER_PART_ALLOWANCE = SEGMENT_OVERHEAD + MANIFEST_RECORD_SIZE
/** Bytes every object carries besides its parts' allowances: manifest header and footer. */
export const FIXED_ALLOWANCE = MANIFEST_HEADER_SIZE + FOOTER_SIZE

/** Domain-separation labels, the first bytes of each AAD (ASCII). */
export const SEGMENT_AAD_LABEL = 's3veil/1/seg'
export const MANIFEST_AAD_LABEL = 's3veil/1/manifest'
export const WRAP_AAD_LABEL = 's3veil/1/wrap'

function assertLength(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative safe integer`)
}

/** Number of segments a part of this plaintext length is cut into (0 for an empty part). */
export function segmentCount(plainLength: number): number {
  assertLength(plainLength, 'plain length')
  return Math.ceil(plainLength / SEGMENT_SIZE)
}

/** Stored bytes of one part: its plaintext plus 28 bytes per segment. */
export function partStoredLength(plainLength: number): number {
  return plainLength + SEGMENT_OVERHEAD * segmentCount(plainLength)
}

/** The most parts an object of `plainSize` bytes can have: all but the last are ≥ 5 MiB, at most 10000. */
export function maxPartCount(plainSize: number): number {
  assertLength(plainSize, 'plain size')
  return Math.min(MAX_PARTS, Math.floor(plainSize / MIN_PART_SIZE) + 1)
}

/** Stored bytes of the encrypted manifest for `partCount` parts: nonce ‖ ct(12 + 12n) ‖ tag. */
export function manifestStoredLength(partCount: number): number {
  return NONCE_SIZE + MANIFEST_HEADER_SIZE + MANIFEST_RECORD_SIZE * partCount + TAG_SIZE
}

/**
 * G(P), the canonical stored size: `P + 28·ceil(P/S) + 40·nmax(P) + 44`. Any valid part layout of P
 * bytes fits (body + manifest + footer ≤ G(P)); zero padding fills the rest, so stored size is a
 * strictly increasing function of plaintext size and LIST/HEAD can invert it without reading anything.
 */
export function storedSize(plainSize: number): number {
  const size = canonicalSize(plainSize)
  if (!Number.isSafeInteger(size)) throw new RangeError('plain size too large')
  return size
}

/** G without the overflow check; non-decreasing even where it loses precision, which bisection needs. */
function canonicalSize(plainSize: number): number {
  const segments = SEGMENT_OVERHEAD * segmentCount(plainSize)
  return plainSize + segments + PER_PART_ALLOWANCE * maxPartCount(plainSize) + FIXED_ALLOWANCE
}

/** G⁻¹: the plaintext size of an object stored in `stored` bytes; undefined when no plaintext size maps there. */
export function plaintextSize(stored: number): number | undefined {
  if (!Number.isSafeInteger(stored) || stored < FIXED_ALLOWANCE + PER_PART_ALLOWANCE) return undefined
  // G(P) ≥ P + 84, so P lies in [0, stored − 84]; G is strictly increasing, so bisect for G(P) ≤ stored.
  let lo = 0
  let hi = stored - FIXED_ALLOWANCE - PER_PART_ALLOWANCE
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2)
    if (canonicalSize(mid) <= stored) lo = mid
    else hi = mid - 1
  }
  return canonicalSize(lo) === stored ? lo : undefined
}

/**
 * Upper bound on the trailer (manifest ‖ padding ‖ footer) of any object of `plainSize` bytes:
 * G(P) minus the smallest possible body. A suffix read of min(stored, this) bytes always holds the whole trailer.
 */
export function maxTrailerLength(plainSize: number): number {
  return storedSize(plainSize) - partStoredLength(plainSize)
}

/** One part of an object as the manifest records it. */
export interface PartSpec {
  partNumber: number
  plainLength: number
}

/** A part with its position in the plaintext and in the stored body. */
export interface PartPlacement extends PartSpec {
  plainOffset: number
  storedOffset: number
  storedLength: number
}

/**
 * Why a part list is not a valid v1 layout, or undefined when it is: 1..10000 parts with strictly
 * increasing numbers in 1..10000 and non-negative safe lengths. (The ≥ 5 MiB rule for non-last parts
 * is the writer's business, checked by encodeTrailer; readers only need the layout to fit.)
 */
export function partListProblem(parts: readonly PartSpec[]): string | undefined {
  if (parts.length < 1 || parts.length > MAX_PARTS) return `part count ${parts.length} outside 1..${MAX_PARTS}`
  let previous = 0
  for (const part of parts) {
    if (!Number.isInteger(part.partNumber) || part.partNumber <= previous || part.partNumber > MAX_PARTS) {
      return 'part numbers must be strictly increasing within 1..10000'
    }
    if (!Number.isSafeInteger(part.plainLength) || part.plainLength < 0) return 'invalid part length'
    if (segmentCount(part.plainLength) > MAX_SEGMENTS_PER_PART) return 'part has too many segments'
    previous = part.partNumber
  }
  return undefined
}

/** Places parts one after another, in list order, in both plaintext and stored space. */
export function placeParts(parts: readonly PartSpec[]): PartPlacement[] {
  let plainOffset = 0
  let storedOffset = 0
  return parts.map(({ partNumber, plainLength }) => {
    const storedLength = partStoredLength(plainLength)
    const placed = { partNumber, plainLength, plainOffset, storedOffset, storedLength }
    plainOffset += plainLength
    storedOffset += storedLength
    return placed
  })
}

/** Stored length of the body (all parts' segments, before the trailer). */
export function bodyStoredLength(parts: readonly PartSpec[]): number {
  let total = 0
  for (const part of parts) total += partStoredLength(part.plainLength)
  return total
}

/** One stored segment and the plaintext it holds. */
export interface SegmentSpan {
  partNumber: number
  /** Index within the part, from 0. */
  index: number
  /** Last segment of its part: bound into the AAD so truncating a part at a segment edge is detected. */
  last: boolean
  plainOffset: number
  plainLength: number
  storedOffset: number
  storedLength: number
}

/**
 * The segments covering a plaintext range, in order. They are contiguous in stored space (parts are
 * concatenated and empty parts have no segments), so one read from the first span's storedOffset
 * feeds them all. A generator, because a whole multi-terabyte object has tens of millions of segments.
 */
export function* segmentSpans(parts: readonly PartPlacement[], range: ByteRange): Generator<SegmentSpan> {
  const last = parts[parts.length - 1]
  const total = last ? last.plainOffset + last.plainLength : 0
  assertRange(range, total)
  for (const part of parts) {
    const partEnd = part.plainOffset + part.plainLength - 1
    if (part.plainLength === 0 || partEnd < range.start) continue
    if (part.plainOffset > range.end) return
    const count = segmentCount(part.plainLength)
    const first = Math.floor((Math.max(range.start, part.plainOffset) - part.plainOffset) / SEGMENT_SIZE)
    const final = Math.floor((Math.min(range.end, partEnd) - part.plainOffset) / SEGMENT_SIZE)
    for (let index = first; index <= final; index++) {
      const plainLength = Math.min(SEGMENT_SIZE, part.plainLength - index * SEGMENT_SIZE)
      yield {
        partNumber: part.partNumber,
        index,
        last: index === count - 1,
        plainOffset: part.plainOffset + index * SEGMENT_SIZE,
        plainLength,
        storedOffset: part.storedOffset + index * STORED_SEGMENT_SIZE,
        storedLength: plainLength + SEGMENT_OVERHEAD,
      }
    }
  }
}

function assertRange(range: ByteRange, total: number): void {
  const { start, end } = range
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= total) {
    throw new RangeError(`range ${start}-${end} is not within an object of ${total} bytes`)
  }
}

/** Stored bytes (inclusive) and segments covering a plaintext range of a part layout. */
export function storedRangeFor(
  parts: readonly PartPlacement[],
  range: ByteRange
): { storedStart: number; storedEnd: number; firstSpan: SegmentSpan; lastSpan: SegmentSpan } {
  assertRange(range, Number.MAX_SAFE_INTEGER)
  // The first and last spans are those of the range's first and last bytes: O(parts) for any range length.
  const [firstSpan] = segmentSpans(parts, { start: range.start, end: range.start })
  const [lastSpan] = segmentSpans(parts, { start: range.end, end: range.end })
  if (!firstSpan || !lastSpan) throw new RangeError('empty range')
  const storedEnd = lastSpan.storedOffset + lastSpan.storedLength - 1
  return { storedStart: firstSpan.storedOffset, storedEnd, firstSpan, lastSpan }
}

/**
 * The stored byte range (inclusive) and segment indexes covering a plaintext range of a single-part
 * object (a single PUT: part 1 from offset 0, on the 64 KiB grid). Without `plainSize` the end is the
 * end of a full-size last segment, which may run past the object's final segment into the trailer —
 * harmless, since the decryptor accepts extra bytes after the segments it needs and S3 clamps a range
 * past the end; with it, the end is exact.
 */
export function singlePartStoredRange(
  range: ByteRange,
  plainSize?: number
): { storedStart: number; storedEnd: number; firstSegment: number; lastSegment: number } {
  assertRange(range, plainSize ?? Number.MAX_SAFE_INTEGER)
  const firstSegment = Math.floor(range.start / SEGMENT_SIZE)
  const lastSegment = Math.floor(range.end / SEGMENT_SIZE)
  const lastPlain =
    plainSize === undefined ? SEGMENT_SIZE : Math.min(SEGMENT_SIZE, plainSize - lastSegment * SEGMENT_SIZE)
  return {
    storedStart: firstSegment * STORED_SEGMENT_SIZE,
    storedEnd: lastSegment * STORED_SEGMENT_SIZE + lastPlain + SEGMENT_OVERHEAD - 1,
    firstSegment,
    lastSegment,
  }
}
