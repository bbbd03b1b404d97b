import { describe, expect, it } from 'vitest'
import { RequestObservation, safeError, securityEventOf, type AuditRecord } from './audit.js'

async function* chunks(...sizes: number[]): AsyncGenerator<Uint8Array> {
  for (const size of sizes) yield new Uint8Array(size)
}

async function* failing(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array(3)
  throw new Error('cut')
}

const emptyRecord = (): AuditRecord => ({ requestId: 'R', method: 'GET', status: 200, bytesIn: 0, bytesOut: 0, durationMs: 0 })

describe('RequestObservation', () => {
  it('counts request and response bytes as they are read, and settles when the body ends', async () => {
    const o = new RequestObservation()
    for await (const _ of o.countIn(chunks(5, 7))) void _
    expect(o.streams()).toBe(false)
    const out = o.countOut(chunks(10, 20, 30))
    expect(o.streams()).toBe(true)
    let settled = false
    void o.settled().then(() => (settled = true))
    for await (const _ of out) void _
    await Promise.resolve()
    expect(settled).toBe(true)
    const record = emptyRecord()
    o.fill(record)
    expect(record).toMatchObject({ bytesIn: 12, bytesOut: 60 })
    expect(record).not.toHaveProperty('upstreamStatus')
  })

  it('settles when the consumer stops early or the source fails, with the bytes sent so far', async () => {
    const early = new RequestObservation()
    for await (const _ of early.countOut(chunks(4, 4, 4))) break
    await early.settled()
    expect(early.bytesOut).toBe(4)

    const broken = new RequestObservation()
    await expect(async () => {
      for await (const _ of broken.countOut(failing())) void _
    }).rejects.toThrow('cut')
    await broken.settled()
    expect(broken.bytesOut).toBe(3)
  })

  it('sums upstream calls: time, count, failures, and the last status', () => {
    const o = new RequestObservation()
    o.upstream(404, 2.4)
    o.upstream(undefined, 10.2, 'ECONNRESET')
    o.upstream(200, 1)
    o.encrypted('k1')
    const record = emptyRecord()
    o.fill(record)
    expect(record).toMatchObject({ upstreamStatus: 200, upstreamMs: 14, upstreamCalls: 3, upstreamErrors: 1, upstreamError: 'ECONNRESET', encryptedWith: 'k1' })
  })

  it('maps S3 error codes to security events', () => {
    expect(securityEventOf('SignatureDoesNotMatch')).toBe('auth-failure')
    expect(securityEventOf('AccessDenied')).toBe('auth-failure')
    expect(securityEventOf('ExpiredToken')).toBe('token-invalid')
    expect(securityEventOf('NoSuchKey')).toBeUndefined()
  })
})

describe('safeError', () => {
  it('keeps name, message, code and causes; drops an SDK error\'s request and response', () => {
    const sdk = Object.assign(new Error('The request signature we calculated does not match'), {
      name: 'SignatureDoesNotMatch',
      code: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
      $response: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKUPSTREAM/…, Signature=abc' } },
    })
    const wrapped = new Error('upstream failed', { cause: sdk })
    const logged = JSON.stringify(safeError(wrapped))
    expect(logged).toContain('SignatureDoesNotMatch')
    expect(logged).toContain('upstream failed')
    expect(logged).not.toContain('AKUPSTREAM')
    expect(logged).not.toContain('$response')
    expect(safeError('text')).toEqual({ type: 'string', message: 'text' })
  })
})
