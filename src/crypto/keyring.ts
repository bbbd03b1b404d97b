/**
 * @module crypto/keyring
 * Master keys (KEKs) and the wrapping of per-object data keys (DEKs). A wrapped key is
 * `nonce(12) ‖ AES-256-GCM(KEK, DEK) ‖ tag(16)` with AAD
 * `"s3veil/1/wrap" ‖ lp(kekId) ‖ lp(bucket) ‖ lp(key) ‖ objectId(16) ‖ u8 multipart`
 * (lp = u16be length ‖ UTF-8),
 * so an envelope only opens for the object it was written for. New wraps use the current key; any key
 * in the ring can unwrap, which is what lets rotation re-wrap metadata without touching data.
 *
 * The imported keys live in a closure: a Keyring has no field holding secrets, so logging, JSON or
 * util.inspect of it cannot leak them.
 */
import type { AeadKey, Platform } from '../platform/types.js'
import { ascii, concatBytes, lengthPrefixed } from './bytes.js'
import { IntegrityError, UnknownKeyError } from './errors.js'
import { KEY_SIZE, OBJECT_ID_SIZE, WRAP_AAD_LABEL, WRAPPED_KEY_SIZE } from './format.js'
import { openRecord, sealRecord } from './segments.js'

const KEK_ID = /^[A-Za-z0-9._-]{1,64}$/
const WRAP_LABEL = ascii(WRAP_AAD_LABEL)

export interface KeyringConfig {
  /** Id of the key new data keys are wrapped with. */
  current: string
  keys: { id: string; material: Uint8Array /* 32 bytes */ }[]
}

/** What a wrapped data key is bound to. */
export interface WrapBinding {
  bucket: string
  key: string
  objectId: Uint8Array
  multipart: boolean
}

export interface WrappedKey {
  kekId: string
  /** nonce ‖ ciphertext ‖ tag, 60 bytes. */
  wrapped: Uint8Array
}

export interface Keyring {
  readonly currentId: string
  readonly ids: readonly string[]
  has(id: string): boolean
  /** Wraps a 32-byte data key under the current master key. */
  wrap(dek: Uint8Array, binding: WrapBinding): Promise<WrappedKey>
  /**
   * Unwraps with the key named in `envelope`.
   * @throws UnknownKeyError when that id is not in the ring
   * @throws IntegrityError (check 'unwrap') when it does not verify: wrong key, other object, moved, edited
   */
  unwrap(envelope: WrappedKey, binding: WrapBinding): Promise<Uint8Array>
}

export function isValidKeyId(id: string): boolean {
  return KEK_ID.test(id)
}

/** The wrap AAD; exported for the format tests and docs, not needed by callers. */
export function wrapAad(kekId: string, binding: WrapBinding): Uint8Array {
  if (binding.objectId.byteLength !== OBJECT_ID_SIZE) throw new RangeError(`object id must be ${OBJECT_ID_SIZE} bytes`)
  return concatBytes(
    WRAP_LABEL,
    lengthPrefixed(kekId),
    lengthPrefixed(binding.bucket),
    lengthPrefixed(binding.key),
    binding.objectId,
    Uint8Array.of(binding.multipart ? 1 : 0)
  )
}

/**
 * Imports the master keys once. Errors name key ids only, never material.
 * @throws Error on a malformed id, duplicate id, material that is not 32 bytes, or a current id not in `keys`
 */
export async function createKeyring(platform: Platform, config: KeyringConfig): Promise<Keyring> {
  const keys = new Map<string, AeadKey>()
  for (const { id, material } of config.keys) {
    if (!isValidKeyId(id)) {
      throw new Error(`invalid master key id ${JSON.stringify(id.slice(0, 64))}: use [A-Za-z0-9._-]{1,64}`)
    }
    if (keys.has(id)) throw new Error(`duplicate master key id "${id}"`)
    if (!(material instanceof Uint8Array) || material.byteLength !== KEY_SIZE) {
      throw new Error(`master key "${id}" must be exactly ${KEY_SIZE} bytes`)
    }
    keys.set(id, await platform.importAesKey(material))
  }
  const currentId = config.current
  const currentKey = keys.get(currentId)
  if (!currentKey) {
    throw new Error(`current master key id ${JSON.stringify(currentId.slice(0, 64))} is not in the keyring`)
  }
  const ids = Object.freeze([...keys.keys()])

  const keyring: Keyring = {
    currentId,
    ids,
    has: (id) => keys.has(id),
    async wrap(dek, binding) {
      if (dek.byteLength !== KEY_SIZE) throw new RangeError(`data key must be ${KEY_SIZE} bytes`)
      const wrapped = await sealRecord(platform, currentKey, dek, wrapAad(currentId, binding))
      return { kekId: currentId, wrapped }
    },
    async unwrap(envelope, binding) {
      const kek = keys.get(envelope.kekId)
      if (!kek) throw new UnknownKeyError(envelope.kekId)
      if (envelope.wrapped.byteLength !== WRAPPED_KEY_SIZE) {
        throw new IntegrityError('unwrap', 'wrapped key has the wrong length')
      }
      const dek = await openRecord(platform, kek, envelope.wrapped, wrapAad(envelope.kekId, binding), 'unwrap')
      if (dek.byteLength !== KEY_SIZE) throw new IntegrityError('unwrap', 'data key has the wrong length')
      return dek
    },
  }
  // Say what it is when printed, without anything secret (there is nothing secret on it to begin with).
  const describe = () => `Keyring(current=${currentId}, ids=${ids.join(',')})`
  Object.defineProperties(keyring, {
    toString: { value: describe },
    toJSON: { value: () => ({ currentId, ids }) },
    [Symbol.for('nodejs.util.inspect.custom')]: { value: describe },
  })
  return Object.freeze(keyring)
}
