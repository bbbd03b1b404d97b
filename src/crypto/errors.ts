/**
 * @module crypto/errors
 * Errors raised by the encrypted object format. Messages name the kind of check that failed and, at
 * most, public numbers (sizes, part numbers, key ids); they never carry key material or plaintext,
 * because they end up in logs and, mapped to S3 errors, in responses.
 */

/** Which check failed; stable strings, so callers and tests can branch on them without parsing messages. */
export type IntegrityCheck =
  | 'segment'
  | 'truncated'
  | 'trailing-data'
  | 'size'
  | 'footer'
  | 'padding'
  | 'manifest'
  | 'unwrap'
  | 'envelope'

/**
 * Stored bytes or metadata failed verification: a tag did not verify, the object is shorter or longer
 * than its layout, or a structural field disagrees with what was authenticated. The data may be
 * tampered with, truncated, moved, or read with the wrong key; nothing derived from it may be released.
 */
export class IntegrityError extends Error {
  readonly check: IntegrityCheck

  constructor(check: IntegrityCheck, detail?: string) {
    super(`s3veil integrity check failed (${check})${detail ? `: ${detail}` : ''}`)
    this.name = 'IntegrityError'
    this.check = check
  }
}

/** The object carries no s3veil envelope in its metadata (it was not written through the gateway). */
export class MissingEnvelopeError extends Error {
  constructor() {
    super('object has no s3veil envelope in its metadata')
    this.name = 'MissingEnvelopeError'
  }
}

/** The envelope names a master key that is not in the keyring. Names only the id. */
export class UnknownKeyError extends Error {
  readonly kekId: string

  constructor(kekId: string) {
    // The id comes from object metadata, which anyone with write access upstream controls: quote and cap it.
    super(`unknown master key id ${JSON.stringify(kekId.slice(0, 64))}`)
    this.name = 'UnknownKeyError'
    this.kekId = kekId
  }
}

/**
 * A plaintext body produced more or fewer bytes than announced. Raised by the encryptors so that the
 * upstream write fails before the trailer (and the last segment) is ever produced.
 */
export class LengthMismatchError extends Error {
  readonly expected: number
  /** Bytes seen when the mismatch was detected (for "too long", a lower bound on the real length). */
  readonly received: number

  constructor(expected: number, received: number) {
    const kind = received < expected ? 'shorter' : 'longer'
    super(`body is ${kind} than its declared length: expected ${expected} bytes, got ${received}`)
    this.name = 'LengthMismatchError'
    this.expected = expected
    this.received = received
  }
}
