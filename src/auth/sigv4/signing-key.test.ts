import { describe, expect, it, vi } from 'vitest'
import { nodePlatform } from '../../platform/node.js'
import type { Platform } from '../../platform/types.js'
import { docs } from '../../../test/fixtures/sigv4/docs.js'
import { signingKeyOf } from '../../../test/fixtures/sigv4/helpers.js'
import { toHex } from './bytes.js'
import { SigningKeyCache, deriveSigningKey, hmacHex } from './signing-key.js'

describe('deriveSigningKey', () => {
  it('matches the IAM documentation example', async () => {
    const { secretAccessKey, date, region, service, key } = docs.signingKey
    expect(toHex(await deriveSigningKey(nodePlatform, secretAccessKey, date, region, service))).toBe(key)
  })

  it('matches an independent derivation for the S3 example credential', async () => {
    const secret = docs.credentials.secretAccessKey
    const key = await deriveSigningKey(nodePlatform, secret, '20130524', 'us-east-1', 's3')
    expect(Buffer.from(key)).toEqual(signingKeyOf(secret, '20130524', 'us-east-1', 's3'))
    expect(await hmacHex(nodePlatform, key, 'x')).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('SigningKeyCache', () => {
  function countingPlatform(): { platform: Platform; calls: () => number } {
    let calls = 0
    const platform: Platform = {
      ...nodePlatform,
      hmacSha256: (key, data) => {
        calls++
        return nodePlatform.hmacSha256(key, data)
      },
    }
    return { platform, calls: () => calls }
  }

  it('derives once per access key and scope', async () => {
    const { platform, calls } = countingPlatform()
    const cache = new SigningKeyCache(4)
    const a = await cache.get(platform, 'AK', 'secret', '20240101', 'us-east-1', 's3')
    const b = await cache.get(platform, 'AK', 'secret', '20240101', 'us-east-1', 's3')
    expect(b).toBe(a)
    expect(calls()).toBe(4)
    await cache.get(platform, 'AK', 'secret', '20240102', 'us-east-1', 's3')
    await cache.get(platform, 'AK', 'secret', '20240101', 'eu-west-1', 's3')
    expect(calls()).toBe(12)
  })

  it('re-derives after the secret rotates', async () => {
    const cache = new SigningKeyCache()
    const before = await cache.get(nodePlatform, 'AK', 'old', '20240101', 'us-east-1', 's3')
    const after = await cache.get(nodePlatform, 'AK', 'new', '20240101', 'us-east-1', 's3')
    expect(Buffer.from(after)).toEqual(signingKeyOf('new', '20240101', 'us-east-1', 's3'))
    expect(Buffer.from(after)).not.toEqual(Buffer.from(before))
  })

  it('stays within its bound, evicting the least recently used entry', async () => {
    const cache = new SigningKeyCache(2)
    const spy = vi.spyOn(nodePlatform, 'hmacSha256')
    await cache.get(nodePlatform, 'A', 's', '20240101', 'r', 's3')
    await cache.get(nodePlatform, 'B', 's', '20240101', 'r', 's3')
    await cache.get(nodePlatform, 'A', 's', '20240101', 'r', 's3') // A is now most recent
    await cache.get(nodePlatform, 'C', 's', '20240101', 'r', 's3') // evicts B
    expect(cache.size).toBe(2)
    spy.mockClear()
    await cache.get(nodePlatform, 'A', 's', '20240101', 'r', 's3')
    expect(spy).not.toHaveBeenCalled()
    await cache.get(nodePlatform, 'B', 's', '20240101', 'r', 's3')
    expect(spy).toHaveBeenCalledTimes(4)
    spy.mockRestore()
    cache.clear()
    expect(cache.size).toBe(0)
  })
})
