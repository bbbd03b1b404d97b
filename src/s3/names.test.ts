/** @module s3/names.test */
import { describe, expect, it } from 'vitest'
import { S3Error } from './errors.js'
import { bucketNameProblem, utf8Length, validateBucketName, validateObjectKey } from './names.js'

function codeOf(fn: () => void): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error)
    return (err as S3Error).code
  }
}

describe('validateBucketName', () => {
  const valid = [
    'abc',
    'a'.repeat(63),
    'my-bucket',
    'my.bucket.name',
    '123',
    '1bucket9',
    'a-b.c-d',
    'a.-b', // not forbidden by the documented rules
    '192.168.5', // three groups is not an IP address
    'sthree', // only the prefix with a hyphen is reserved
    'xn-a',
    'bucket-s3alias-not',
    'my-bucket--x-s3x',
  ]
  const invalid = [
    ['', 'too short'],
    ['ab', 'too short'],
    ['a'.repeat(64), 'too long'],
    ['MyBucket', 'uppercase'],
    ['my_bucket', 'underscore'],
    ['my bucket', 'space'],
    ['-bucket', 'starts with hyphen'],
    ['bucket-', 'ends with hyphen'],
    ['.bucket', 'starts with dot'],
    ['bucket.', 'ends with dot'],
    ['my..bucket', 'adjacent periods'],
    ['192.168.5.4', 'IP address'],
    ['999.0.0.1', 'IP-like'],
    ['xn--bucket', 'xn-- prefix'],
    ['sthree-bucket', 'sthree- prefix'],
    ['sthree-configurator-x', 'sthree-configurator prefix'],
    ['amzn-s3-demo-bucket', 'amzn-s3-demo- prefix'],
    ['bucket-s3alias', '-s3alias suffix'],
    ['bucket--ol-s3', '--ol-s3 suffix'],
    ['bucket.mrap', '.mrap suffix'],
    ['bucket--x-s3', '--x-s3 suffix'],
    ['bucket--table-s3', '--table-s3 suffix'],
    ['buck/et', 'slash'],
    ['..', 'dot-dot'],
    ['a\u0000b', 'NUL'],
    ['bücket', 'non-ASCII'],
  ] as const

  it.each(valid)('accepts %j', (name) => {
    expect(bucketNameProblem(name)).toBeUndefined()
    expect(() => validateBucketName(name)).not.toThrow()
  })

  it.each(invalid)('rejects %j (%s)', (name) => {
    expect(codeOf(() => validateBucketName(name))).toBe('InvalidBucketName')
  })

  it('names the bucket in the error', () => {
    expect.assertions(2)
    try {
      validateBucketName('Bad')
    } catch (err) {
      expect((err as S3Error).fields).toEqual({ BucketName: 'Bad' })
      expect((err as S3Error).status).toBe(400)
    }
  })
})

describe('validateObjectKey', () => {
  const KEYS = ['a', 'a b', 'a+b', '100%', 'ü/ñ.txt', '../../etc/passwd', '/leading', 'a//b', 'dir/', '\u0000', '😀']
  it.each([...KEYS, 'x'.repeat(1024)])('accepts %j', (key) => {
    expect(() => validateObjectKey(key)).not.toThrow()
  })

  it('rejects an empty key', () => {
    expect(codeOf(() => validateObjectKey(''))).toBe('InvalidArgument')
  })

  it('measures the limit in UTF-8 bytes', () => {
    expect(() => validateObjectKey('x'.repeat(1024))).not.toThrow()
    expect(codeOf(() => validateObjectKey('x'.repeat(1025)))).toBe('KeyTooLongError')
    expect(() => validateObjectKey('ü'.repeat(512))).not.toThrow() // 1024 bytes
    expect(codeOf(() => validateObjectKey('ü'.repeat(512) + 'x'))).toBe('KeyTooLongError')
    expect(() => validateObjectKey('😀'.repeat(256))).not.toThrow() // 1024 bytes, 512 UTF-16 units
    expect(codeOf(() => validateObjectKey('😀'.repeat(256) + 'x'))).toBe('KeyTooLongError')
    expect(() => validateObjectKey('€'.repeat(341) + 'x')).not.toThrow() // 1024 bytes
    expect(codeOf(() => validateObjectKey('€'.repeat(342)))).toBe('KeyTooLongError') // 1026 bytes
  })

  it('reports the size on KeyTooLongError', () => {
    expect.assertions(1)
    try {
      validateObjectKey('x'.repeat(1025))
    } catch (err) {
      expect((err as S3Error).fields).toEqual({ Size: 1025, MaxSizeAllowed: 1024 })
    }
  })

  it('rejects lone surrogates, which have no UTF-8 encoding', () => {
    expect(codeOf(() => validateObjectKey('a\ud800b'))).toBe('InvalidArgument')
    expect(codeOf(() => validateObjectKey('\udc00'))).toBe('InvalidArgument')
    expect(codeOf(() => validateObjectKey('x\ud83d'))).toBe('InvalidArgument')
  })
})

describe('utf8Length', () => {
  const TEXTS = ['', 'abc', 'ü', '€', '😀', 'aü€😀\u0000\uffff\u{10ffff}']
  it.each(TEXTS)('matches Buffer.byteLength for %j', (text) => {
    expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'))
  })
})
