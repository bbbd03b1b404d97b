/**
 * @module crypto/envelope
 * The per-object envelope kept in S3 user metadata (sent as `x-amz-meta-<name>`): format version, the
 * master key id, the object id and the wrapped data key, plus the multipart flag. Names share the
 * reserved prefix `s3veil-`; the gateway must strip them from everything it returns and refuse or drop
 * client-supplied names with that prefix. Values are plain ASCII (base64url for bytes) because S3 user
 * metadata is ASCII-only. Together they take about 200 bytes of S3's 2 KB user-metadata budget.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata
 */
import type { Platform } from '../platform/types.js'
import { fromBase64Url, toBase64Url } from './bytes.js'
import { IntegrityError, MissingEnvelopeError } from './errors.js'
import { FORMAT_VERSION, KEY_SIZE, OBJECT_ID_SIZE, WRAPPED_KEY_SIZE } from './format.js'
import { isValidKeyId, type Keyring, type WrappedKey } from './keyring.js'
import type { ObjectKey } from './segments.js'

export const RESERVED_META_PREFIX = 's3veil-'

/** Metadata names (lowercase, without `x-amz-meta-`) of the envelope fields. */
export const META_NAMES = {
  version: 's3veil-v',
  kekId: 's3veil-kek',
  objectId: 's3veil-oid',
  wrappedKey: 's3veil-dek',
  multipart: 's3veil-mp',
} as const

export interface ObjectBinding {
  bucket: string
  key: string
}

export interface OpenedEnvelope extends ObjectKey {
  kekId: string
  multipart: boolean
}

/** The envelope as stored, before unwrapping. */
export interface StoredEnvelope extends WrappedKey {
  objectId: Uint8Array
  multipart: boolean
}

/** Whether a user-metadata name belongs to the gateway (case-insensitive: S3 lowercases names anyway). */
export function isReservedMetaName(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_META_PREFIX)
}

/** A copy of user metadata without the gateway's names, for returning to clients. */
export function stripReserved(user: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(user)) {
    if (!isReservedMetaName(name)) out[name] = value
  }
  return out
}

export function encodeEnvelope(envelope: StoredEnvelope): Record<string, string> {
  return {
    [META_NAMES.version]: String(FORMAT_VERSION),
    [META_NAMES.kekId]: envelope.kekId,
    [META_NAMES.objectId]: toBase64Url(envelope.objectId),
    [META_NAMES.wrappedKey]: toBase64Url(envelope.wrapped),
    [META_NAMES.multipart]: envelope.multipart ? '1' : '0',
  }
}

/**
 * Reads the envelope fields from user metadata.
 * @throws MissingEnvelopeError when no reserved name is present at all
 * @throws IntegrityError (check 'envelope') when some are present but incomplete or malformed
 */
export function decodeEnvelope(user: Record<string, string>): StoredEnvelope {
  if (!Object.keys(user).some(isReservedMetaName)) throw new MissingEnvelopeError()
  const field = (name: string): string => {
    const value = user[name]
    if (value === undefined) throw new IntegrityError('envelope', `incomplete envelope: ${name} missing`)
    return value
  }
  const version = field(META_NAMES.version)
  if (version !== String(FORMAT_VERSION)) {
    throw new IntegrityError('envelope', `unsupported envelope version ${JSON.stringify(version.slice(0, 16))}`)
  }
  const kekId = field(META_NAMES.kekId)
  if (!isValidKeyId(kekId)) throw new IntegrityError('envelope', 'malformed master key id')
  const objectId = fromBase64Url(field(META_NAMES.objectId))
  if (objectId?.byteLength !== OBJECT_ID_SIZE) throw new IntegrityError('envelope', 'malformed object id')
  const wrapped = fromBase64Url(field(META_NAMES.wrappedKey))
  if (wrapped?.byteLength !== WRAPPED_KEY_SIZE) throw new IntegrityError('envelope', 'malformed wrapped key')
  const mp = field(META_NAMES.multipart)
  if (mp !== '0' && mp !== '1') throw new IntegrityError('envelope', 'malformed multipart flag')
  return { kekId, objectId, wrapped, multipart: mp === '1' }
}

/**
 * A fresh envelope for a new object (or multipart upload): random 32-byte data key and 16-byte object
 * id, the data key wrapped under the current master key for `binding`.
 * @returns the opened envelope (for encrypting) and the `metadata` entries to store with the object
 */
export async function createEnvelope(
  platform: Platform,
  keyring: Keyring,
  binding: ObjectBinding,
  opts: { multipart?: boolean } = {}
): Promise<OpenedEnvelope & { metadata: Record<string, string> }> {
  const multipart = opts.multipart ?? false
  const rawDek = platform.randomBytes(KEY_SIZE)
  const objectId = platform.randomBytes(OBJECT_ID_SIZE)
  const { kekId, wrapped } = await keyring.wrap(rawDek, { ...binding, objectId, multipart })
  const dek = await platform.importAesKey(rawDek)
  const metadata = encodeEnvelope({ kekId, wrapped, objectId, multipart })
  return { dek, objectId, kekId, multipart, metadata }
}

async function unwrapStored(
  keyring: Keyring,
  stored: StoredEnvelope,
  binding: ObjectBinding
): Promise<Uint8Array> {
  return keyring.unwrap(stored, { ...binding, objectId: stored.objectId, multipart: stored.multipart })
}

/**
 * Opens the envelope of an object stored at `binding`.
 * @throws MissingEnvelopeError when the object has none
 * @throws UnknownKeyError when its master key is not in the keyring
 * @throws IntegrityError when it is malformed or does not unwrap (wrong key, moved, flag flipped)
 */
export async function openEnvelope(
  platform: Platform,
  keyring: Keyring,
  userMetadata: Record<string, string>,
  binding: ObjectBinding
): Promise<OpenedEnvelope> {
  const stored = decodeEnvelope(userMetadata)
  const rawDek = await unwrapStored(keyring, stored, binding)
  const dek = await platform.importAesKey(rawDek)
  return { dek, objectId: stored.objectId, kekId: stored.kekId, multipart: stored.multipart }
}

/**
 * Re-wraps an object's data key for a new location and/or the current master key, for server-side
 * copy and key rotation: same data key and object id (the stored body stays valid byte for byte).
 * @returns only the envelope entries; merge them over the other metadata (after stripReserved)
 */
export async function rewrapEnvelope(
  platform: Platform,
  keyring: Keyring,
  userMetadata: Record<string, string>,
  from: ObjectBinding,
  to: ObjectBinding
): Promise<Record<string, string>> {
  void platform // kept in the signature so all envelope functions take the same seam
  const stored = decodeEnvelope(userMetadata)
  const rawDek = await unwrapStored(keyring, stored, from)
  const { objectId, multipart } = stored
  const { kekId, wrapped } = await keyring.wrap(rawDek, { ...to, objectId, multipart })
  return encodeEnvelope({ kekId, wrapped, objectId, multipart })
}
