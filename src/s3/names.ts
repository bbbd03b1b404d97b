/**
 * @module s3/names
 * Pure validators for bucket names and object keys, shared by handlers and backends.
 * Bucket names follow the general-purpose bucket naming rules; object keys are any well-formed
 * Unicode string of 1–1024 UTF-8 bytes.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
 */
import { S3Error } from './errors.js'

export const MAX_KEY_BYTES = 1024

const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/
const IP_LIKE = /^\d+\.\d+\.\d+\.\d+$/
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-']
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']
/** In `u` mode a valid surrogate pair is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /\p{Surrogate}/u

/** Returns the reason `name` is not a valid bucket name, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'Bucket name must be between 3 and 63 characters long'
  if (!BUCKET_CHARS.test(name)) {
    return (
      'Bucket name must consist of lowercase letters, digits, dots and hyphens, ' +
      'and begin and end with a letter or digit'
    )
  }
  if (name.includes('..')) return 'Bucket name must not contain two adjacent periods'
  if (IP_LIKE.test(name)) return 'Bucket name must not be formatted as an IP address'
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p))
  if (prefix) return `Bucket name must not start with the reserved prefix ${prefix}`
  const suffix = RESERVED_SUFFIXES.find((s) => name.endsWith(s))
  if (suffix) return `Bucket name must not end with the reserved suffix ${suffix}`
  return undefined
}

/** Throws InvalidBucketName unless `name` satisfies the S3 general-purpose bucket naming rules. */
export function validateBucketName(name: string): void {
  const problem = bucketNameProblem(name)
  if (problem !== undefined) throw new S3Error('InvalidBucketName', problem, { fields: { BucketName: name } })
}

/**
 * Throws unless `key` can be an S3 object key: InvalidArgument when empty or not well-formed
 * Unicode (a lone surrogate has no UTF-8 encoding, so two such keys could collide once encoded),
 * KeyTooLongError when its UTF-8 encoding exceeds 1024 bytes. Any other character, NUL included,
 * is allowed, as in S3; storage must therefore never put key text into a path.
 */
export function validateObjectKey(key: string): void {
  const invalid = (message: string) => new S3Error('InvalidArgument', message, { fields: { ArgumentName: 'key' } })
  if (key.length === 0) throw invalid('Object key must not be empty')
  if (LONE_SURROGATE.test(key)) throw invalid('Object key must be valid UTF-8')
  // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (key.length * 3 <= MAX_KEY_BYTES) return
  const size = utf8Length(key)
  if (size > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', undefined, { fields: { Size: size, MaxSizeAllowed: MAX_KEY_BYTES } })
  }
}

/** UTF-8 byte length of a well-formed string, without allocating (s3/ avoids Node's Buffer). */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      // High surrogate: the pair is one 4-byte code point (a lone one is rejected before this).
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}
