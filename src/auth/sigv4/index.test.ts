import { expect, it } from 'vitest'
import * as sigv4 from './index.js'
import * as verify from './verify.js'

it('exposes the gateway-facing API from the package entry and from verify.js', () => {
  for (const mod of [sigv4, verify]) {
    expect(typeof mod.hasSigV4).toBe('function')
    expect(typeof mod.verifyRequest).toBe('function')
    expect(typeof mod.verifyPayload).toBe('function')
  }
  expect(typeof sigv4.stripAwsChunked).toBe('function')
  expect(sigv4.DEFAULT_MAX_SKEW_MS).toBe(900_000)
  expect(Object.keys(sigv4.CHECKSUM_ALGORITHMS)).toEqual(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'])
})
