import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { nodePlatform } from '../../platform/node.js'
import type { Platform } from '../../platform/types.js'
import { S3Error } from '../../s3/errors.js'
import { ChecksumVerifier, algorithmOfHeader, planChecksums, type ChecksumAlgorithm } from './checksums.js'

const CHECK = Buffer.from('123456789')
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64')

/** Digests of "123456789": the CRC catalogue check values, and node:crypto for the SHAs and MD5. */
const EXPECTED: Record<ChecksumAlgorithm, string> = {
  CRC32: b64('cbf43926'),
  CRC32C: b64('e3069283'),
  CRC64NVME: b64('ae8b14860a799888'),
  SHA1: createHash('sha1').update(CHECK).digest('base64'),
  SHA256: createHash('sha256').update(CHECK).digest('base64'),
}
const MD5 = createHash('md5').update(CHECK).digest('base64')

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof S3Error) return err.code
    throw err
  }
  return undefined
}

async function asyncCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (err) {
    if (err instanceof S3Error) return err.code
    throw err
  }
  return undefined
}

async function run(
  headers: Record<string, string>,
  data: Uint8Array,
  trailers?: Map<string, string>,
  platform: Platform = nodePlatform
) {
  const verifier = new ChecksumVerifier(platform, planChecksums(new Headers(headers), trailers !== undefined))
  // Feed in uneven pieces to exercise incremental hashing.
  for (let i = 0; i < data.length; i += 4) verifier.update(data.subarray(i, i + 4))
  if (trailers) verifier.setTrailers(trailers)
  return verifier.finish()
}

describe('x-amz-checksum-* as a header', () => {
  for (const [algorithm, value] of Object.entries(EXPECTED) as [ChecksumAlgorithm, string][]) {
    const header = `x-amz-checksum-${algorithm.toLowerCase()}`

    it(`${algorithm}: verifies and reports the value`, async () => {
      expect(await run({ [header]: value, 'x-amz-sdk-checksum-algorithm': algorithm }, CHECK)).toEqual({
        algorithm,
        value,
      })
    })

    it(`${algorithm}: a mismatch → BadDigest`, async () => {
      const data = Buffer.from('123456780')
      const err = await run({ [header]: value }, data).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(S3Error)
      expect((err as S3Error).code).toBe('BadDigest')
      expect((err as S3Error).message).toContain(algorithm)
    })

    it(`${algorithm}: wrong length or bad base64 → InvalidRequest before any data`, () => {
      expect(code(() => planChecksums(new Headers({ [header]: b64('00') }), false))).toBe('InvalidRequest')
      expect(code(() => planChecksums(new Headers({ [header]: value.replace(/=+$/, '') }), false))).toBe(
        'InvalidRequest'
      )
      expect(code(() => planChecksums(new Headers({ [header]: '!!!!' }), false))).toBe('InvalidRequest')
    })
  }

  it('more than one checksum header → InvalidRequest', () => {
    expect(
      code(() =>
        planChecksums(
          new Headers({ 'x-amz-checksum-crc32': EXPECTED.CRC32, 'x-amz-checksum-sha1': EXPECTED.SHA1 }),
          false
        )
      )
    ).toBe('InvalidRequest')
  })

  it('an unknown checksum header → InvalidRequest; settings headers are not values', () => {
    expect(code(() => planChecksums(new Headers({ 'x-amz-checksum-xxh3': 'AAAA' }), false))).toBe(
      'InvalidRequest'
    )
    expect(
      planChecksums(
        new Headers({ 'x-amz-checksum-type': 'FULL_OBJECT', 'x-amz-checksum-mode': 'ENABLED' }),
        false
      )
    ).toEqual({})
  })

  it('maps header names to algorithms', () => {
    expect(algorithmOfHeader('X-Amz-Checksum-CRC64NVME')).toBe('CRC64NVME')
    expect(algorithmOfHeader('x-amz-checksum-md5')).toBeUndefined()
  })
})

describe('x-amz-sdk-checksum-algorithm', () => {
  it('alone asks for nothing: no digest computed, nothing reported', async () => {
    const plan = planChecksums(new Headers({ 'x-amz-sdk-checksum-algorithm': 'crc32' }), false)
    expect(plan).toEqual({})
    expect(new ChecksumVerifier(nodePlatform, plan).idle).toBe(true)
    expect(await run({ 'x-amz-sdk-checksum-algorithm': 'SHA256' }, CHECK)).toBeUndefined()
  })

  it('an unknown value, or one naming another algorithm than the value sent → InvalidRequest', () => {
    expect(code(() => planChecksums(new Headers({ 'x-amz-sdk-checksum-algorithm': 'MD5' }), false))).toBe(
      'InvalidRequest'
    )
    expect(
      code(() =>
        planChecksums(
          new Headers({ 'x-amz-sdk-checksum-algorithm': 'SHA1', 'x-amz-checksum-crc32': EXPECTED.CRC32 }),
          false
        )
      )
    ).toBe('InvalidRequest')
  })
})

describe('x-amz-checksum-* in the trailer', () => {
  for (const [algorithm, value] of Object.entries(EXPECTED) as [ChecksumAlgorithm, string][]) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`
    it(`${algorithm}: verifies the trailed value`, async () => {
      expect(await run({ 'x-amz-trailer': name }, CHECK, new Map([[name, value]]))).toEqual({
        algorithm,
        value,
      })
    })

    it(`${algorithm}: a wrong trailed value → BadDigest`, async () => {
      const other = Buffer.alloc(Buffer.from(value, 'base64').length, 7).toString('base64')
      expect(await asyncCode(run({ 'x-amz-trailer': name }, CHECK, new Map([[name, other]])))).toBe(
        'BadDigest'
      )
    })
  }

  it('a malformed trailed value → InvalidRequest', async () => {
    const name = 'x-amz-checksum-crc32'
    expect(await asyncCode(run({ 'x-amz-trailer': name }, CHECK, new Map([[name, 'short']])))).toBe(
      'InvalidRequest'
    )
  })

  it('the declared trailer not sent → InvalidRequest', async () => {
    expect(await asyncCode(run({ 'x-amz-trailer': 'x-amz-checksum-crc32' }, CHECK, new Map()))).toBe(
      'InvalidRequest'
    )
  })

  it('an undeclared trailer → InvalidRequest', async () => {
    expect(
      await asyncCode(
        run(
          { 'x-amz-trailer': 'x-amz-checksum-crc32' },
          CHECK,
          new Map([['x-amz-checksum-sha1', EXPECTED.SHA1]])
        )
      )
    ).toBe('InvalidRequest')
    expect(await asyncCode(run({}, CHECK, new Map([['x-amz-meta-x', '1']])))).toBe('InvalidRequest')
  })

  it('a trailer declared without a trailer payload form → InvalidRequest', () => {
    expect(code(() => planChecksums(new Headers({ 'x-amz-trailer': 'x-amz-checksum-crc32' }), false))).toBe(
      'InvalidRequest'
    )
  })

  it('a trailer that is not a checksum, or a header and a trailer checksum together → InvalidRequest', () => {
    expect(code(() => planChecksums(new Headers({ 'x-amz-trailer': 'x-amz-meta-foo' }), true))).toBe(
      'InvalidRequest'
    )
    expect(
      code(() =>
        planChecksums(
          new Headers({ 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-checksum-sha1': EXPECTED.SHA1 }),
          true
        )
      )
    ).toBe('InvalidRequest')
  })
})

describe('Content-MD5', () => {
  it('verifies', async () => {
    expect(await run({ 'content-md5': MD5 }, CHECK)).toBeUndefined()
  })

  it('a mismatch → BadDigest', async () => {
    expect(await asyncCode(run({ 'content-md5': MD5 }, Buffer.from('x')))).toBe('BadDigest')
  })

  it.each(['', 'not base64', b64('00112233'), MD5.replace(/=+$/, '')])(
    '%j → InvalidDigest before any data',
    (value) => {
      expect(code(() => planChecksums(new Headers({ 'content-md5': value }), false))).toBe('InvalidDigest')
    }
  )

  it('together with a checksum, both are checked', async () => {
    expect(await run({ 'content-md5': MD5, 'x-amz-checksum-crc32c': EXPECTED.CRC32C }, CHECK)).toEqual({
      algorithm: 'CRC32C',
      value: EXPECTED.CRC32C,
    })
    expect(
      await asyncCode(
        run({ 'content-md5': b64('00'.repeat(16)), 'x-amz-checksum-crc32c': EXPECTED.CRC32C }, CHECK)
      )
    ).toBe('BadDigest')
  })
})

it('computes only what was asked for (never MD5 without Content-MD5)', async () => {
  const created: string[] = []
  const platform: Platform = {
    ...nodePlatform,
    createHash: (algorithm) => {
      created.push(algorithm)
      return nodePlatform.createHash(algorithm)
    },
  }
  await run({ 'x-amz-checksum-crc32': EXPECTED.CRC32 }, CHECK, undefined, platform)
  await run({}, CHECK, undefined, platform)
  expect(created).toEqual(['crc32'])
})
