/**
 * The audit trail (issue 5): one JSON record per request, read from what the gateway process printed,
 * for an upload and a download through the encrypting gateway on a real RGW (encrypted/decrypted and
 * the key id, bytes in/out, upstream status and latency, the principal without its secret), a plaintext
 * bucket, and the security events of a failed signature, a policy denial and an anonymous request.
 */
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../../src/auth/password.js'
import { requestRecords } from '../helpers/gateway.js'
import { rgwForTests } from '../helpers/rgw.js'
import { FULL_ACCESS_POLICY, objectPath, rawRequest, sdkError, signRequest, sleep, startTarget, type Target } from './support.js'

const rgw = await rgwForTests()

type Json = Record<string, unknown>

/** The request records the gateway printed so far (pino JSON lines with msg "request"). */
function records(target: Target): Json[] {
  return requestRecords(target.gw.output()) as Json[]
}

/** The one record of a request id; records are written when the response body has ended, so wait a little. */
async function recordOf(target: Target, requestId: string | undefined): Promise<Json> {
  expect(requestId).toMatch(/^[0-9A-F]{16}$/)
  for (let i = 0; i < 50; i++) {
    const found = records(target).filter((r) => r.requestId === requestId)
    if (found.length > 0) {
      expect(found).toHaveLength(1)
      return found[0]!
    }
    await sleep(50)
  }
  throw new Error(`no audit record for request ${requestId}`)
}

describe.skipIf(!rgw)('audit records of the encrypting gateway on RGW', () => {
  let target: Target
  let alice: S3Client
  const bucket = `s3v-audit-${randomBytes(4).toString('hex')}`
  const plain = `s3v-audit-plain-${randomBytes(4).toString('hex')}`
  const bob = { id: 'AKBOB' + randomBytes(6).toString('hex').toUpperCase(), secret: randomBytes(30).toString('base64') }

  beforeAll(async () => {
    const aliceKey = { id: 'AKALICE' + randomBytes(6).toString('hex').toUpperCase(), secret: randomBytes(30).toString('base64') }
    target = await startTarget('rgw', rgw, {
      extra: {
        plaintextBuckets: [plain],
        policies: {
          'full-access': FULL_ACCESS_POLICY,
          'read-only': { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
        },
        users: [
          { name: 'alice', groups: ['staff'], accessKeys: [aliceKey], policies: ['full-access'] },
          { name: 'bob', groups: ['readers', 'staff'], accessKeys: [bob], policies: ['read-only'] },
        ],
      },
    })
    alice = target.client()
    await alice.send(new CreateBucketCommand({ Bucket: bucket }))
    await alice.send(new CreateBucketCommand({ Bucket: plain }))
  })
  afterAll(async () => {
    alice?.destroy()
    await target?.stop()
  })

  it('an upload and a download: encrypted then decrypted under k1, bytes, upstream, principal, no secret', async () => {
    const data = randomBytes(300_001)
    const put = await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/report.bin', Body: data }))
    const got = await alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/report.bin' }))
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true)

    const common = {
      service: 's3veil',
      client: '127.0.0.1',
      authMethod: 'sigv4-header',
      user: 'alice',
      groups: ['staff'],
      accessKeyId: target.accessKeyId,
      bucket,
      key: 'dir/report.bin',
      status: 200,
    }
    const up = await recordOf(target, put.$metadata.requestId)
    expect(up).toMatchObject({ ...common, method: 'PUT', operation: 'PutObject', bytesIn: data.byteLength, bytesOut: 0, encryptedWith: 'k1' })
    expect(up).not.toHaveProperty('decryptedWith')
    expect(up).not.toHaveProperty('errorCode')
    expect(up).not.toHaveProperty('securityEvent')

    const down = await recordOf(target, got.$metadata.requestId)
    expect(down).toMatchObject({ ...common, method: 'GET', operation: 'GetObject', bytesIn: 0, bytesOut: data.byteLength, decryptedWith: 'k1' })
    expect(down).not.toHaveProperty('encryptedWith')

    for (const r of [up, down]) {
      // pino's time: epoch milliseconds, now-ish.
      expect(Math.abs((r.time as number) - Date.now())).toBeLessThan(60_000)
      expect(r.upstreamStatus).toBe(200)
      expect(r.upstreamCalls).toBeGreaterThanOrEqual(1)
      expect(r.upstreamErrors).toBe(0)
      expect(typeof r.upstreamMs).toBe('number')
      expect(r.durationMs as number).toBeGreaterThanOrEqual(r.upstreamMs as number)
      expect(JSON.stringify(r)).not.toContain(target.secretAccessKey)
    }
    expect(target.gw.output()).not.toContain(target.secretAccessKey)
    expect(target.gw.output()).not.toContain(rgw!.secretAccessKey)
  })

  it('a plaintext bucket: no encryption flag either way', async () => {
    const data = randomBytes(4096)
    const put = await alice.send(new PutObjectCommand({ Bucket: plain, Key: 'open.txt', Body: data }))
    const got = await alice.send(new GetObjectCommand({ Bucket: plain, Key: 'open.txt' }))
    await got.Body!.transformToByteArray()
    const up = await recordOf(target, put.$metadata.requestId)
    const down = await recordOf(target, got.$metadata.requestId)
    expect(up).toMatchObject({ operation: 'PutObject', bucket: plain, bytesIn: 4096, status: 200, upstreamStatus: 200 })
    expect(down).toMatchObject({ operation: 'GetObject', bucket: plain, bytesOut: 4096, status: 200, upstreamStatus: 200 })
    for (const r of [up, down]) {
      expect(r).not.toHaveProperty('encryptedWith')
      expect(r).not.toHaveProperty('decryptedWith')
    }
  })

  it('a failed signature is an auth-failure security event, without the secret that was tried', async () => {
    const tried = 'wrong-secret-' + randomBytes(12).toString('hex')
    const wrong = target.client({ credentials: { accessKeyId: target.accessKeyId, secretAccessKey: tried } })
    const failed = await sdkError(wrong.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/report.bin' })))
    wrong.destroy()
    expect(failed.status).toBe(403)
    const r = await recordOf(target, (failed.err as { $metadata: { requestId?: string } }).$metadata.requestId)
    // Which key was tried and for what, so an alert can say who is failing; never who it was (no user).
    expect(r).toMatchObject({
      status: 403,
      errorCode: 'SignatureDoesNotMatch',
      securityEvent: 'auth-failure',
      bucket,
      operation: 'GetObject',
      authMethod: 'sigv4-header',
      accessKeyId: target.accessKeyId,
    })
    expect(r).not.toHaveProperty('user')
    expect(target.gw.output()).not.toContain(tried)
  })

  it('a policy denial is a policy-denied security event naming the user and groups', async () => {
    const client = target.client({ credentials: { accessKeyId: bob.id, secretAccessKey: bob.secret } })
    const denied = await sdkError(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'nope.txt', Body: 'x' })))
    client.destroy()
    expect(denied.status).toBe(403)
    const r = await recordOf(target, (denied.err as { $metadata: { requestId?: string } }).$metadata.requestId)
    expect(r).toMatchObject({
      status: 403,
      errorCode: 'AccessDenied',
      securityEvent: 'policy-denied',
      user: 'bob',
      groups: ['readers', 'staff'],
      accessKeyId: bob.id,
      operation: 'PutObject',
      bytesIn: 0,
    })
    expect(target.gw.output()).not.toContain(bob.secret)
  })

  it('a download the client abandons mid-body still gets its one record, with the bytes sent so far', async () => {
    const data = randomBytes(8 << 20)
    await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'big.bin', Body: data }))
    const path = objectPath(bucket, 'big.bin')
    const signed = await signRequest(target, { method: 'GET', path })
    const requestId = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: target.host, port: target.port, path, headers: signed.headers, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve(res.headers['x-amz-request-id'] as string)
        })
      })
      req.on('error', () => undefined)
      req.setTimeout(30_000, () => reject(new Error('timeout')))
      req.end()
    })
    const r = await recordOf(target, requestId)
    expect(r).toMatchObject({ operation: 'GetObject', status: 200, decryptedWith: 'k1' })
    expect(r.bytesOut as number).toBeLessThan(data.byteLength)
  })

  it('an object tampered with in the store: the download is cut and flagged integrity-failure', async () => {
    const data = randomBytes(300_000)
    await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper.bin', Body: data }))
    // Flip one stored byte, well past the first segment, keeping the envelope metadata.
    const stored = await target.upstream!.send(new GetObjectCommand({ Bucket: bucket, Key: 'tamper.bin' }))
    const bytes = Buffer.from(await stored.Body!.transformToByteArray())
    bytes[200_000]! ^= 0x01
    await target.upstream!.send(new PutObjectCommand({ Bucket: bucket, Key: 'tamper.bin', Body: bytes, Metadata: stored.Metadata }))
    const got = await alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'tamper.bin' }))
    await expect(got.Body!.transformToByteArray()).rejects.toThrow()
    const r = await recordOf(target, got.$metadata.requestId)
    expect(r).toMatchObject({
      operation: 'GetObject',
      status: 200,
      errorCode: 'InternalError',
      securityEvent: 'integrity-failure',
      decryptedWith: 'k1',
    })
    expect(r.bytesOut as number).toBeLessThan(data.byteLength)
  })

  it('every request gets exactly one record: anonymous, ops endpoints (debug only), unknown paths', async () => {
    const before = records(target).length
    const anonymous = await rawRequest(target, { method: 'GET', path: objectPath(bucket, 'dir/report.bin') })
    expect(anonymous.status).toBe(403)
    const r = await recordOf(target, anonymous.headers['x-amz-request-id'] as string)
    expect(r).toMatchObject({ status: 403, errorCode: 'AccessDenied', securityEvent: 'auth-failure', bucket, key: 'dir/report.bin' })
    // Ops requests are logged at debug: not in an info-level log.
    const health = await rawRequest(target, { method: 'GET', path: '/-/healthz' })
    expect(health.status).toBe(200)
    await sleep(200)
    expect(records(target).length).toBe(before + 1)
    expect(records(target).some((x) => x.requestId === health.headers['x-amz-request-id'])).toBe(false)
  })
})

describe('audit records of HTTP Basic failures (disk backend)', () => {
  it('wrong passwords are auth-failure (401 challenge); past the throttle they are auth-throttled (503 SlowDown)', async () => {
    const password = 'pw-' + randomBytes(12).toString('hex')
    const target = await startTarget('disk', undefined, {
      extra: {
        basicAuth: { enabled: true, failureBurst: 2, failureRefillPerMinute: 1 },
        users: [
          {
            name: 'carol',
            groups: [],
            accessKeys: [{ id: 'AKCAROL' + randomBytes(6).toString('hex').toUpperCase(), secret: randomBytes(30).toString('base64') }],
            password: await hashPassword(password),
            policies: ['full-access'],
          },
        ],
      },
    })
    try {
      const attempt = (pw: string) =>
        rawRequest(target, { method: 'GET', path: '/', headers: { authorization: 'Basic ' + Buffer.from(`carol:${pw}`).toString('base64') } })
      const seen: Json[] = []
      for (const pw of ['wrong-1', 'wrong-2', password]) {
        const res = await attempt(pw)
        const r = await recordOf(target, res.headers['x-amz-request-id'] as string)
        seen.push({ status: res.status, ...r })
      }
      expect(seen[0]).toMatchObject({ status: 401, errorCode: 'AccessDenied', securityEvent: 'auth-failure', authMethod: 'basic' })
      expect(seen[1]).toMatchObject({ status: 401, securityEvent: 'auth-failure' })
      // Even the right password waits until the throttle refills.
      expect(seen[2]).toMatchObject({ status: 503, errorCode: 'SlowDown', securityEvent: 'auth-throttled', authMethod: 'basic' })
      expect(target.gw.output()).not.toContain(password)
    } finally {
      await target.stop()
    }
  })
})
