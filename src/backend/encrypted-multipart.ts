/**
 * @module backend/encrypted-multipart
 * Pure pieces of the encrypting decorator's multipart support (backend/encrypted.ts has the I/O):
 * the reserved key space for the gateway's own objects, the part-number mapping onto the upstream,
 * the inverse of partStoredLength, merging the two places a part can live, and the bounded cache of
 * verified manifests. docs/format.md ("Multipart uploads through the gateway") explains the scheme.
 *
 * Internal objects live in the client's bucket under `.s3veil/` (INTERNAL_PREFIX):
 *   .s3veil/uploads/<id>/record          one per upload: the envelope (user metadata), so that any
 *                                        gateway instance can encrypt a part without shared state
 *   .s3veil/uploads/<id>/part/<nnnnn>    a part under 5 MiB, kept aside (it can only be the last)
 * `<id>` is the upstream upload id, percent-encoded so that no id can reach into another's space.
 * Clients can neither read, write nor list keys under the prefix.
 */
import { SEGMENT_OVERHEAD, STORED_SEGMENT_SIZE, partStoredLength, type PartSpec } from '../crypto/format.js'
import { compareKeys } from './listing.js'
import type { UploadedPart } from './types.js'

/** Every key starting with this belongs to the gateway. */
export const INTERNAL_PREFIX = '.s3veil/'
const UPLOADS_PREFIX = `${INTERNAL_PREFIX}uploads/`
/**
 * A listing position after every internal key and before every client key that sorts after them:
 * internal keys continue with ASCII after the prefix, and U+10FFFF is the largest code point.
 */
export const AFTER_INTERNAL_KEYS = `${INTERNAL_PREFIX}\u{10FFFF}`

/**
 * The upstream part number of the final part (the kept-aside last part, if any, plus the trailer).
 * Client part n is upstream part n; a client part 10000 of 5 MiB or more would leave no room, and
 * is refused.
 */
export const TRAILER_PART_NUMBER = 10000

/** User-metadata name (on the record) of the digest of the key the upload is for. */
export const UPLOAD_KEY_META = 's3veil-upload-key'

/** Upstream upload ids are opaque but printable; anything else cannot be one of ours. */
const PLAUSIBLE_UPLOAD_ID = /^[\x21-\x7e]{1,512}$/

export function isInternalKey(key: string): boolean {
  return key.startsWith(INTERNAL_PREFIX)
}

export function isPlausibleUploadId(uploadId: string): boolean {
  return PLAUSIBLE_UPLOAD_ID.test(uploadId)
}

/** All internal objects of one upload share this prefix. */
export function uploadPrefix(uploadId: string): string {
  return `${UPLOADS_PREFIX}${encodeURIComponent(uploadId)}/`
}

export function uploadRecordKey(uploadId: string): string {
  return `${uploadPrefix(uploadId)}record`
}

export function keptPartsPrefix(uploadId: string): string {
  return `${uploadPrefix(uploadId)}part/`
}

export function keptPartKey(uploadId: string, partNumber: number): string {
  return `${keptPartsPrefix(uploadId)}${String(partNumber).padStart(5, '0')}`
}

/** The part number of a kept-aside part's key, or undefined when the key is not one. */
export function keptPartNumber(uploadId: string, key: string): number | undefined {
  const prefix = keptPartsPrefix(uploadId)
  if (!key.startsWith(prefix)) return undefined
  const rest = key.slice(prefix.length)
  return /^\d{5}$/.test(rest) ? Number(rest) : undefined
}

/**
 * Inverse of partStoredLength: the plaintext length of a part stored in `stored` bytes, or
 * undefined when no length maps there (1..28 bytes, or a partial segment of 28 bytes or fewer).
 * A part of k segments is stored in (S + 28)(k − 1) + 29 .. (S + 28)k bytes (and 0 for k = 0).
 */
export function partPlainLength(stored: number): number | undefined {
  if (!Number.isSafeInteger(stored) || stored < 0) return undefined
  const segments = Math.ceil(stored / STORED_SEGMENT_SIZE)
  const plain = stored - SEGMENT_OVERHEAD * segments
  return plain >= 0 && partStoredLength(plain) === stored ? plain : undefined
}

export type PartSource = 'upstream' | 'kept'

export interface LocatedPart extends UploadedPart {
  source: PartSource
}

/**
 * The parts a client sees: upstream parts (without the gateway's own trailer part number) and
 * kept-aside parts, one per number, sorted. When a number has both (a small re-upload after a
 * large one; a large re-upload deletes the kept-aside copy), the later one wins, as in S3; on a tie
 * the kept-aside one, which can only have been written after the upstream part was stored.
 */
export function mergeParts(upstream: readonly UploadedPart[], kept: readonly UploadedPart[]): LocatedPart[] {
  const byNumber = new Map<number, LocatedPart>()
  for (const part of upstream) {
    if (part.partNumber !== TRAILER_PART_NUMBER) byNumber.set(part.partNumber, { ...part, source: 'upstream' })
  }
  for (const part of kept) {
    const other = byNumber.get(part.partNumber)
    if (!other || part.lastModified.getTime() >= other.lastModified.getTime()) {
      byNumber.set(part.partNumber, { ...part, source: 'kept' })
    }
  }
  return [...byNumber.values()].sort((a, b) => a.partNumber - b.partNumber)
}

/** The later of two listing positions in S3 key order. */
export function laterKey(a: string, b: string): string {
  return compareKeys(a, b) >= 0 ? a : b
}

/**
 * Verified manifests (part lists) of multipart objects, so that ranged reads need no trailer read
 * after the first. Keyed by bucket, key, stored ETag and object id: a changed object misses. Bounded
 * by entries and by the total number of parts held (a manifest has up to 10000), least recently
 * used first out. Only ever holds lists that decodeTrailer verified; a stale entry could only make
 * segment authentication fail, never release wrong bytes.
 */
export class ManifestCache {
  readonly #entries = new Map<string, PartSpec[]>()
  #parts = 0

  constructor(
    readonly maxEntries = 1024,
    readonly maxParts = 100_000
  ) {}

  static key(bucket: string, key: string, etag: string, objectId: Uint8Array): string {
    let id = ''
    for (const b of objectId) id += b.toString(16).padStart(2, '0')
    // JSON keeps the fields apart whatever they contain (keys may hold NUL).
    return JSON.stringify([bucket, key, etag, id])
  }

  get(id: string): PartSpec[] | undefined {
    const parts = this.#entries.get(id)
    if (parts) {
      this.#entries.delete(id)
      this.#entries.set(id, parts)
    }
    return parts
  }

  set(id: string, parts: PartSpec[]): void {
    this.delete(id)
    if (parts.length > this.maxParts || this.maxEntries === 0) return
    this.#entries.set(id, parts)
    this.#parts += parts.length
    for (const [oldest, held] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && this.#parts <= this.maxParts) break
      this.#entries.delete(oldest)
      this.#parts -= held.length
    }
  }

  delete(id: string): void {
    const held = this.#entries.get(id)
    if (!held) return
    this.#entries.delete(id)
    this.#parts -= held.length
  }

  get size(): number {
    return this.#entries.size
  }
}
