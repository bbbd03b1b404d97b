/**
 * @module crypto/segments
 * The pure codec for sealed records and the AAD builders. A sealed record (segment, manifest or
 * wrapped key) is `nonce(12, random) ‖ ciphertext ‖ tag(16)` under AES-256-GCM, through the platform
 * seam only. Random nonces rather than counters: a client may legally re-upload a part number with
 * other bytes under the same data key, and a derived nonce would then repeat.
 */
import { AeadAuthError, type AeadKey, type Platform } from '../platform/types.js'
import { ascii, concatBytes, writeU32 } from './bytes.js'
import { IntegrityError, type IntegrityCheck } from './errors.js'
import {
  MANIFEST_AAD_LABEL,
  NONCE_SIZE,
  OBJECT_ID_SIZE,
  SEGMENT_AAD_LABEL,
  SEGMENT_OVERHEAD,
  FOOTER_SIZE,
} from './format.js'

/** What a body codec needs from an opened envelope. */
export interface ObjectKey {
  dek: AeadKey
  objectId: Uint8Array
}

const SEGMENT_LABEL = ascii(SEGMENT_AAD_LABEL)
const MANIFEST_LABEL = ascii(MANIFEST_AAD_LABEL)

function assertObjectId(objectId: Uint8Array): void {
  if (objectId.byteLength !== OBJECT_ID_SIZE) throw new RangeError(`object id must be ${OBJECT_ID_SIZE} bytes`)
}

/**
 * Segment AAD: "s3veil/1/seg" ‖ objectId(16) ‖ u32be partNumber ‖ u32be index ‖ u8 last. Binding the
 * position and the last-of-part flag makes reordering, moving between objects and truncating at a
 * segment edge fail authentication.
 */
export function segmentAad(objectId: Uint8Array, partNumber: number, index: number, last: boolean): Uint8Array {
  assertObjectId(objectId)
  const aad = new Uint8Array(SEGMENT_LABEL.byteLength + OBJECT_ID_SIZE + 9)
  aad.set(SEGMENT_LABEL, 0)
  aad.set(objectId, SEGMENT_LABEL.byteLength)
  const at = SEGMENT_LABEL.byteLength + OBJECT_ID_SIZE
  writeU32(aad, at, partNumber)
  writeU32(aad, at + 4, index)
  aad[at + 8] = last ? 1 : 0
  return aad
}

/**
 * Manifest AAD: "s3veil/1/manifest" ‖ objectId(16) ‖ footer(32). The label separates it from segment
 * AADs under the same data key (one primitive, no key derivation); the footer makes its plaintext fields
 * (lengths, version) authenticated.
 */
export function manifestAad(objectId: Uint8Array, footer: Uint8Array): Uint8Array {
  assertObjectId(objectId)
  if (footer.byteLength !== FOOTER_SIZE) throw new RangeError(`footer must be ${FOOTER_SIZE} bytes`)
  return concatBytes(MANIFEST_LABEL, objectId, footer)
}

/** Seals `plaintext` as nonce ‖ ciphertext ‖ tag with a fresh random nonce from the platform. */
export async function sealRecord(
  platform: Platform,
  key: AeadKey,
  plaintext: Uint8Array,
  aad: Uint8Array
): Promise<Uint8Array> {
  const nonce = platform.randomBytes(NONCE_SIZE)
  if (nonce.byteLength !== NONCE_SIZE) throw new Error('platform returned a short nonce')
  const out = await platform.aesGcmSeal(key, nonce, plaintext, aad, NONCE_SIZE)
  out.set(nonce, 0)
  return out
}

/** Opens nonce ‖ ciphertext ‖ tag; any authentication failure becomes an IntegrityError of kind `check`. */
export async function openRecord(
  platform: Platform,
  key: AeadKey,
  stored: Uint8Array,
  aad: Uint8Array,
  check: IntegrityCheck
): Promise<Uint8Array> {
  if (stored.byteLength < SEGMENT_OVERHEAD) throw new IntegrityError(check, 'record shorter than nonce and tag')
  try {
    return await platform.aesGcmOpen(key, stored.subarray(0, NONCE_SIZE), stored.subarray(NONCE_SIZE), aad)
  } catch (err) {
    if (err instanceof AeadAuthError) throw new IntegrityError(check, 'authentication tag did not verify')
    throw err
  }
}

/** Seals one segment of part `partNumber` at `index`. */
export function sealSegment(
  platform: Platform,
  key: ObjectKey,
  partNumber: number,
  index: number,
  last: boolean,
  plaintext: Uint8Array
): Promise<Uint8Array> {
  return sealRecord(platform, key.dek, plaintext, segmentAad(key.objectId, partNumber, index, last))
}

/** Opens one stored segment expected at (`partNumber`, `index`, `last`); IntegrityError if it is not that segment. */
export function openSegment(
  platform: Platform,
  key: ObjectKey,
  partNumber: number,
  index: number,
  last: boolean,
  stored: Uint8Array
): Promise<Uint8Array> {
  return openRecord(platform, key.dek, stored, segmentAad(key.objectId, partNumber, index, last), 'segment')
}
