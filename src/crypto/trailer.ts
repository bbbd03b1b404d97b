/**
 * @module crypto/trailer
 * The trailer every v1 object ends with: `encrypted manifest ‖ zero padding ‖ footer(32)`.
 * The manifest lists the parts and the total plaintext size; the padding brings the object to exactly
 * G(P) = storedSize(P); the plaintext footer says where the manifest starts and is authenticated as
 * the manifest's AAD. Padding is outside any tag, so decoders require it to be all zero.
 */
import type { Platform } from '../platform/types.js'
import { ascii, isAllZero, readU32, readU64, writeU32, writeU64 } from './bytes.js'
import { IntegrityError } from './errors.js'
import {
  FOOTER_MAGIC,
  FOOTER_SIZE,
  FORMAT_VERSION,
  MANIFEST_HEADER_SIZE,
  MANIFEST_RECORD_SIZE,
  MIN_PART_SIZE,
  bodyStoredLength as computeBodyStoredLength,
  manifestStoredLength,
  maxPartCount,
  maxTrailerLength,
  partListProblem,
  plaintextSize,
  storedSize as canonicalStoredSize,
  type PartSpec,
} from './format.js'
import { manifestAad, openRecord, sealRecord, type ObjectKey } from './segments.js'

const MAGIC = ascii(FOOTER_MAGIC)
const MANIFEST_FIXED = manifestStoredLength(0)

export interface Footer {
  manifestStoredLength: number
  paddingLength: number
}

export interface Manifest {
  totalPlaintext: number
  parts: PartSpec[]
}

/** Footer: "S3VEIL" ‖ u8 version ‖ u8 flags(0) ‖ u32be manifestStoredLength ‖ u64be paddingLength ‖ 12 zero bytes. */
export function encodeFooter(footer: Footer): Uint8Array {
  const out = new Uint8Array(FOOTER_SIZE)
  out.set(MAGIC, 0)
  out[6] = FORMAT_VERSION
  out[7] = 0
  writeU32(out, 8, footer.manifestStoredLength)
  writeU64(out, 12, footer.paddingLength)
  return out
}

/** Parses a footer, rejecting anything v1 did not write (reserved space must stay zero to be usable later). */
export function decodeFooter(bytes: Uint8Array): Footer {
  if (bytes.byteLength !== FOOTER_SIZE) throw new IntegrityError('footer', 'wrong footer length')
  for (let i = 0; i < MAGIC.byteLength; i++) {
    if (bytes[i] !== MAGIC[i]) throw new IntegrityError('footer', 'bad magic')
  }
  if (bytes[6] !== FORMAT_VERSION) throw new IntegrityError('footer', `unsupported format version ${bytes[6]}`)
  if (bytes[7] !== 0) throw new IntegrityError('footer', 'unknown flags')
  if (!isAllZero(bytes.subarray(20))) throw new IntegrityError('footer', 'reserved bytes are not zero')
  const paddingLength = readU64(bytes, 12)
  if (!Number.isSafeInteger(paddingLength)) throw new IntegrityError('footer', 'padding length out of range')
  return { manifestStoredLength: readU32(bytes, 8), paddingLength }
}

/**
 * Manifest plaintext:
 * u64be totalPlaintext ‖ u32be partCount ‖ partCount × (u32be partNumber ‖ u64be plainLength).
 */
export function encodeManifest(manifest: Manifest): Uint8Array {
  const { totalPlaintext, parts } = manifest
  const out = new Uint8Array(MANIFEST_HEADER_SIZE + MANIFEST_RECORD_SIZE * parts.length)
  writeU64(out, 0, totalPlaintext)
  writeU32(out, 8, parts.length)
  parts.forEach((part, i) => {
    const at = MANIFEST_HEADER_SIZE + MANIFEST_RECORD_SIZE * i
    writeU32(out, at, part.partNumber)
    writeU64(out, at + 4, part.plainLength)
  })
  return out
}

/** Parses and structurally validates manifest plaintext (which has already been authenticated). */
export function decodeManifest(bytes: Uint8Array): Manifest {
  if (bytes.byteLength < MANIFEST_HEADER_SIZE || (bytes.byteLength - MANIFEST_HEADER_SIZE) % MANIFEST_RECORD_SIZE) {
    throw new IntegrityError('manifest', 'bad manifest length')
  }
  const totalPlaintext = readU64(bytes, 0)
  const count = readU32(bytes, 8)
  if (count !== (bytes.byteLength - MANIFEST_HEADER_SIZE) / MANIFEST_RECORD_SIZE) {
    throw new IntegrityError('manifest', 'part count disagrees with manifest length')
  }
  const parts: PartSpec[] = []
  let sum = 0
  for (let i = 0; i < count; i++) {
    const at = MANIFEST_HEADER_SIZE + MANIFEST_RECORD_SIZE * i
    const part = { partNumber: readU32(bytes, at), plainLength: readU64(bytes, at + 4) }
    parts.push(part)
    sum += part.plainLength
  }
  const problem = partListProblem(parts)
  if (problem) throw new IntegrityError('manifest', problem)
  if (!Number.isSafeInteger(totalPlaintext) || sum !== totalPlaintext) {
    throw new IntegrityError('manifest', 'part lengths do not add up to the total')
  }
  return { totalPlaintext, parts }
}

/**
 * Builds `manifest ‖ padding ‖ footer` for an object whose body (the parts' segments, in list order)
 * is `bodyStoredLength` bytes, so that body + trailer is exactly storedSize(total).
 * @throws RangeError when the part list is not a layout S3 would accept (numbers strictly increasing in
 *   1..10000, every part but the last ≥ 5 MiB) or the body length disagrees with it
 */
export async function encodeTrailer(
  platform: Platform,
  key: ObjectKey,
  parts: readonly PartSpec[],
  bodyStoredLength: number
): Promise<Uint8Array> {
  const problem = partListProblem(parts)
  if (problem) throw new RangeError(problem)
  parts.slice(0, -1).forEach((part) => {
    // The size bound G relies on it; S3 itself rejects such uploads with EntityTooSmall.
    if (part.plainLength < MIN_PART_SIZE) {
      throw new RangeError(`part ${part.partNumber} is smaller than 5 MiB and not last`)
    }
  })
  if (bodyStoredLength !== computeBodyStoredLength(parts)) {
    throw new RangeError('body stored length disagrees with the part list')
  }
  const totalPlaintext = parts.reduce((sum, part) => sum + part.plainLength, 0)
  const manifestLength = manifestStoredLength(parts.length)
  const paddingLength = canonicalStoredSize(totalPlaintext) - bodyStoredLength - manifestLength - FOOTER_SIZE
  // Cannot happen for layouts that pass the checks above (docs/format.md proves it); kept as a tripwire.
  if (paddingLength < 0) throw new RangeError('layout does not fit the canonical stored size')

  const footer = encodeFooter({ manifestStoredLength: manifestLength, paddingLength })
  const records = parts.map(({ partNumber, plainLength }) => ({ partNumber, plainLength }))
  const plain = encodeManifest({ totalPlaintext, parts: records })
  const sealed = await sealRecord(platform, key.dek, plain, manifestAad(key.objectId, footer))
  const out = new Uint8Array(manifestLength + paddingLength + FOOTER_SIZE)
  out.set(sealed, 0)
  out.set(footer, manifestLength + paddingLength)
  return out
}

/**
 * Verifies and decodes the trailer from `tail`, the last `tail.length` bytes of an object of
 * `storedSize` bytes. The tail must hold the whole trailer: reading min(storedSize, maxTrailerLength(P))
 * bytes always suffices (P = plaintextSize(storedSize)).
 * @throws IntegrityError when the size, footer, padding or manifest do not verify or disagree
 * @throws RangeError when the tail is too short to hold the trailer the (plausible) footer describes
 */
export async function decodeTrailer(
  platform: Platform,
  key: ObjectKey,
  tail: Uint8Array,
  storedSize: number
): Promise<Manifest> {
  const plainSize = plaintextSize(storedSize)
  if (plainSize === undefined) throw new IntegrityError('size', `${storedSize} is not a v1 stored size`)
  if (tail.byteLength > storedSize) throw new RangeError('tail is longer than the object')
  if (tail.byteLength < FOOTER_SIZE) throw new RangeError(`tail too short: need at least ${FOOTER_SIZE} bytes`)

  const footerBytes = tail.subarray(tail.byteLength - FOOTER_SIZE)
  const footer = decodeFooter(footerBytes)
  const records = (footer.manifestStoredLength - MANIFEST_FIXED) / MANIFEST_RECORD_SIZE
  if (!Number.isInteger(records) || records < 1 || records > maxPartCount(plainSize)) {
    throw new IntegrityError('footer', 'manifest length impossible for this object size')
  }
  const trailerLength = footer.manifestStoredLength + footer.paddingLength + FOOTER_SIZE
  if (trailerLength > maxTrailerLength(plainSize)) {
    throw new IntegrityError('footer', 'trailer longer than this object size allows')
  }
  if (trailerLength > tail.byteLength) {
    // With the whole object in hand there is nothing more to fetch: the footer is lying.
    if (tail.byteLength === storedSize) throw new IntegrityError('footer', 'trailer longer than the object')
    throw new RangeError(`tail too short: need the last ${trailerLength} bytes`)
  }

  const manifestStart = tail.byteLength - trailerLength
  const padding = tail.subarray(manifestStart + footer.manifestStoredLength, tail.byteLength - FOOTER_SIZE)
  if (!isAllZero(padding)) throw new IntegrityError('padding', 'padding is not all zero')

  const sealed = tail.subarray(manifestStart, manifestStart + footer.manifestStoredLength)
  const plain = await openRecord(platform, key.dek, sealed, manifestAad(key.objectId, footerBytes), 'manifest')
  const manifest = decodeManifest(plain)
  if (manifest.totalPlaintext !== plainSize) {
    throw new IntegrityError('manifest', 'total plaintext disagrees with the stored size')
  }
  if (computeBodyStoredLength(manifest.parts) + trailerLength !== storedSize) {
    throw new IntegrityError('manifest', 'part layout disagrees with the stored size')
  }
  return manifest
}
