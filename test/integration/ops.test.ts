/**
 * The operations endpoints and graceful shutdown (issue 5): /-/healthz, /-/readyz against a real RGW,
 * a closed port and a stopped slapd, /-/metrics in Prometheus text format (and its bearer token), and
 * SIGTERM: a slow upload in flight completes while new connections are refused, or is cut at the
 * timeout leaving no object.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, requestRecords, startGateway } from '../helpers/gateway.js'
import { LDAP_SUFFIX, ldapForTests } from '../helpers/ldap.js'
import { freePort, rgwForTests } from '../helpers/rgw.js'
import {
  gatewayConfig,
  objectPath,
  rawRequest,
  sdkClient,
  sdkError,
  signRequest,
  signedRequest,
  sleep,
  startTarget,
  type Target,
} from './support.js'

const rgw = await rgwForTests()
const ldap = await ldapForTests()
// Also when the LDAP test below is filtered out or fails before it stops slapd itself.
afterAll(async () => {
  await ldap?.stop().catch(() => undefined)
})

async function get(url: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(url + path, { headers })
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() }
}

/** The value of one sample line (`name{labels} value`), 0 when absent. */
function sample(metrics: string, name: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe.skipIf(!rgw)('operations endpoints on the RGW backend', () => {
  let target: Target

  beforeAll(async () => {
    target = await startTarget('rgw', rgw)
  })
  afterAll(async () => {
    await target?.stop()
  })

  it('/-/healthz is 200 ok; /-/readyz is 200 with the storage check ok', async () => {
    expect(await get(target.url, '/-/healthz')).toMatchObject({ status: 200, body: 'ok\n' })
    const ready = await get(target.url, '/-/readyz')
    expect(ready.status).toBe(200)
    expect(ready.type).toBe('application/json')
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready', checks: { storage: 'ok' } })
  })

  it('/-/metrics parses as Prometheus text, and its counters move with requests', async () => {
    const before = await get(target.url, '/-/metrics')
    expect(before.status).toBe(200)
    expect(before.type).toMatch(/^text\/plain; version=0\.0\.4/)
    // Every line is a comment or `name{labels} value`.
    for (const line of before.body.split('\n').filter(Boolean)) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="[^"]*",?)*\})? -?[\d.e+-]+|\w+(\{.*\})? (NaN|[+-]Inf))$/)
    }
    const counters = ['requests', 'request_bytes', 'response_bytes', 'upstream_errors', 'security_events']
    for (const name of counters.map((c) => `s3veil_${c}_total`)) {
      expect(before.body).toContain(`# TYPE ${name} counter`)
    }
    expect(before.body).toContain('# TYPE s3veil_request_duration_seconds histogram')

    const client = target.client()
    const bucket = target.bucketName('metrics')
    const body = randomBytes(12345)
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'm.bin', Body: body }))
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'm.bin' }))
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true)
    await client.send(new ListObjectsV2Command({ Bucket: bucket }))
    const wrong = target.client({ credentials: { accessKeyId: target.accessKeyId, secretAccessKey: 'not-the-secret-0123456789' } })
    // A HEAD: its 403 has no body, so GetObject's byte count below is the download alone.
    expect((await sdkError(wrong.send(new HeadObjectCommand({ Bucket: bucket, Key: 'm.bin' })))).status).toBe(403)
    client.destroy()
    wrong.destroy()
    await sleep(100)

    const after = (await get(target.url, '/-/metrics')).body
    const put = 'operation="PutObject",status="200",code=""'
    expect(sample(after, 's3veil_requests_total', put) - sample(before.body, 's3veil_requests_total', put)).toBe(1)
    const bytesIn = (m: string) => sample(m, 's3veil_request_bytes_total', 'operation="PutObject"')
    expect(bytesIn(after) - bytesIn(before.body)).toBe(body.byteLength)
    const bytesOut = (m: string) => sample(m, 's3veil_response_bytes_total', 'operation="GetObject"')
    expect(bytesOut(after) - bytesOut(before.body)).toBe(body.byteLength)
    const listV2 = 'operation="ListObjectsV2",status="200",code=""'
    expect(sample(after, 's3veil_requests_total', listV2) - sample(before.body, 's3veil_requests_total', listV2)).toBe(1)
    expect(after).not.toContain('operation="Other"')
    const failures = (m: string) => sample(m, 's3veil_security_events_total', 'reason="auth-failure"')
    expect(failures(after) - failures(before.body)).toBe(1)
    // The refused request is counted under its operation, not as Unknown.
    const denied = 'operation="HeadObject",status="403",code="SignatureDoesNotMatch"'
    expect(sample(after, 's3veil_requests_total', denied) - sample(before.body, 's3veil_requests_total', denied)).toBe(1)
    expect(after).toMatch(/^s3veil_request_duration_seconds_count\{operation="PutObject"\} [1-9]/m)
    expect(after).toMatch(/^s3veil_upstream_requests_total [1-9]/m)
    // Labels are operations, statuses and codes: never a bucket or a key.
    expect(after).not.toContain(bucket)
    expect(after).not.toContain('m.bin')
  })
})

describe('readiness of unavailable dependencies', () => {
  it('an upstream on a closed port: /-/readyz is 503 naming the storage; /-/healthz stays 200', async () => {
    const port = await freePort()
    const config = gatewayConfig({
      type: 's3',
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      accessKeyId: 'AKCLOSEDPORT',
      secretAccessKey: randomBytes(20).toString('base64'),
    })
    const gw = await startGateway({ config })
    try {
      const ready = await get(gw.url, '/-/readyz')
      expect(ready.status).toBe(503)
      expect(JSON.parse(ready.body)).toEqual({ status: 'unavailable', checks: { storage: 'ServiceUnavailable' } })
      expect((await get(gw.url, '/-/healthz')).status).toBe(200)
      // A request fails as ServiceUnavailable, and its audit record says why.
      const client = sdkClient(gw.url, gw)
      expect((await sdkError(client.send(new ListObjectsV2Command({ Bucket: 'any' })))).status).toBe(503)
      client.destroy()
      await sleep(100)
      const record = requestRecords(gw.output()).find((r) => r.operation === 'ListObjectsV2')
      expect(record).toMatchObject({ status: 503, errorCode: 'ServiceUnavailable', upstreamStatus: 0, upstreamError: 'ECONNREFUSED' })
    } finally {
      await gw.stop()
    }
  })

  it.skipIf(!ldap)('LDAP: /-/readyz is 200 while slapd runs and 503 naming ldap once it is stopped', async () => {
    const config = gatewayConfig(
      { type: 'disk' },
      {
        basicAuth: { enabled: true },
        ldap: {
          url: ldap!.url,
          bindDN: ldap!.bindDN,
          bindPassword: ldap!.bindPassword,
          userBase: `ou=people,${LDAP_SUFFIX}`,
          timeoutMs: 1000,
        },
      }
    )
    const gw = await startGateway({ config })
    try {
      const up = await get(gw.url, '/-/readyz')
      expect(up.status).toBe(200)
      expect(JSON.parse(up.body)).toEqual({ status: 'ready', checks: { storage: 'ok', ldap: 'ok' } })
      await ldap!.stop()
      // A round of checks answers for a second; the next one sees slapd gone.
      let down = await get(gw.url, '/-/readyz')
      for (let i = 0; i < 30 && down.status === 200; i++) {
        await sleep(200)
        down = await get(gw.url, '/-/readyz')
      }
      expect(down.status).toBe(503)
      expect(JSON.parse(down.body)).toEqual({ status: 'unavailable', checks: { storage: 'ok', ldap: 'ServiceUnavailable' } })
    } finally {
      await gw.stop()
      await ldap!.stop().catch(() => undefined)
    }
  })
})

describe('/-/metrics with a bearer token', () => {
  it('401 without or with a wrong token, 200 with it', async () => {
    const token = randomBytes(24).toString('hex')
    const config = gatewayConfig({ type: 'disk' }, { ops: { metricsToken: { env: 'S3VEIL_TEST_METRICS_TOKEN' } } })
    const gw = await startGateway({ config, env: { S3VEIL_TEST_METRICS_TOKEN: token } })
    try {
      const none = await get(gw.url, '/-/metrics')
      expect(none.status).toBe(401)
      expect(none.body).not.toContain('s3veil_')
      expect((await get(gw.url, '/-/metrics', { authorization: 'Bearer wrong' })).status).toBe(401)
      const ok = await get(gw.url, '/-/metrics', { authorization: `Bearer ${token}` })
      expect(ok.status).toBe(200)
      expect(ok.body).toContain('# TYPE s3veil_requests_total counter')
      expect(ok.body).not.toContain(token)
    } finally {
      await gw.stop()
    }
  })
})

describe('audit destination', () => {
  it('"audit": {"file": …} sends the request records to that file (mode 0600), not to stdout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3veil-audit-'))
    const file = join(dir, 'logs', 'audit.log')
    const gw = await startGateway({ config: gatewayConfig({ type: 'disk' }, { audit: { file } }), dataDir: dir })
    try {
      const url = new URL(gw.url)
      const res = await rawRequest({ host: url.hostname, port: Number(url.port) }, { method: 'GET', path: '/some-bucket' })
      expect(res.status).toBe(403)
      await sleep(100)
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ msg: 'request', requestId: res.headers['x-amz-request-id'], status: 403, securityEvent: 'auth-failure' })
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      expect(gw.output()).not.toContain('"msg":"request"')
    } finally {
      await gw.stop()
    }
  })
})

/** `chunks` pieces of `size` bytes, one every `intervalMs`, announced with an exact Content-Length. */
async function* slowly(data: Buffer, chunks: number, intervalMs: number, started: () => void): AsyncGenerator<Buffer> {
  const size = data.byteLength / chunks
  for (let i = 0; i < chunks; i++) {
    yield data.subarray(i * size, (i + 1) * size)
    if (i === 0) started()
    await sleep(intervalMs)
  }
}

function slowPut(target: Target, key: string, data: Buffer, chunks: number, intervalMs: number) {
  let signal!: () => void
  const started = new Promise<void>((done) => (signal = done))
  const path = objectPath('drain', key)
  const response = signRequest(target, {
    method: 'PUT',
    path,
    headers: { 'content-length': String(data.byteLength) },
    payloadHash: 'UNSIGNED-PAYLOAD',
  }).then((signed) => rawRequest(target, { method: 'PUT', path, headers: signed.headers, body: slowly(data, chunks, intervalMs, signal) }))
  return { started, response }
}

/** Whether a new connection to the gateway is refused. */
async function refused(target: Target): Promise<boolean> {
  try {
    await rawRequest(target, { method: 'GET', path: '/-/healthz' })
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED'
  }
}

/** The object as a fresh gateway on the same data dir and config sees it (status and body). */
async function readBack(target: Target, key: string): Promise<{ status: number; body: Buffer }> {
  const again = await startGateway({ config: target.config, dataDir: target.gw.dataDir })
  try {
    const url = new URL(again.url)
    const view = { ...target, host: url.hostname, port: Number(url.port) }
    const res = await signedRequest(view, { method: 'GET', path: objectPath('drain', key) })
    return { status: res.status, body: res.body }
  } finally {
    await again.stop()
  }
}

/** The one request record of a key in a gateway's output. */
function requestRecord(output: string, key: string): Record<string, unknown> {
  const records = requestRecords(output).filter((record) => record.key === key)
  expect(records).toHaveLength(1)
  return records[0]!
}

describe('graceful shutdown on SIGTERM', () => {
  async function drainTarget(timeoutSeconds: number): Promise<Target> {
    const target = await startTarget('disk', undefined, { extra: { ops: { shutdownTimeoutSeconds: timeoutSeconds } } })
    const res = await signedRequest(target, { method: 'PUT', path: objectPath('drain') })
    expect(res.status).toBe(200)
    return target
  }

  it('an upload in flight completes (200, stored), new connections are refused, the process exits 0', async () => {
    const target = await drainTarget(20)
    const data = randomBytes(4 * 65536)
    const upload = slowPut(target, 'slow.bin', data, 4, 400)
    await upload.started
    process.kill(target.gw.pid, 'SIGTERM')
    await sleep(300)
    expect(await refused(target)).toBe(true)
    const res = await upload.response
    expect(res.status).toBe(200)
    expect(await target.gw.exited).toBe(0)
    const output = target.gw.output()
    expect(output).toContain('"msg":"shutting down: no new connections, waiting for requests in flight"')
    expect(output).toMatch(/"cut":false[^\n]*"msg":"stopped"/)
    expect(requestRecord(output, 'slow.bin')).toMatchObject({ operation: 'PutObject', status: 200, bytesIn: data.length, encryptedWith: expect.any(String) })
    const back = await readBack(target, 'slow.bin')
    expect(back.status).toBe(200)
    expect(back.body.equals(data)).toBe(true)
  })

  it('an upload still running at the timeout is cut and stores nothing; the process exits 0', async () => {
    const target = await drainTarget(1)
    const data = randomBytes(8 * 65536)
    const upload = slowPut(target, 'cut.bin', data, 8, 500)
    await upload.started
    process.kill(target.gw.pid, 'SIGTERM')
    const res = await upload.response.catch((err: Error) => ({ status: 0, complete: false, error: err }))
    expect(res.status).not.toBe(200)
    expect(await target.gw.exited).toBe(0)
    expect(target.gw.output()).toMatch(/"cut":true[^\n]*"msg":"stopped"/)
    // The cut request still gets its record, written before the process exits; nothing was stored.
    const record = requestRecord(target.gw.output(), 'cut.bin')
    expect(record).toMatchObject({ operation: 'PutObject', errorCode: expect.any(String) })
    expect(record.status).toBeGreaterThanOrEqual(400)
    expect(record).not.toHaveProperty('encryptedWith')
    expect((await readBack(target, 'cut.bin')).status).toBe(404)
  })
})

describe('a log reader that goes away (stdout closed: a crashed log shipper, a finished `| head`)', () => {
  it('the gateway keeps serving, and still stops on SIGTERM at once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 's3veil-epipe-'))
    const args = [join(REPO_ROOT, 'bin/s3veil.js'), 'serve', '--port', '0', '--data-dir', dataDir]
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(out)
          if (m) resolve(m[1]!)
        })
        child.once('exit', () => reject(new Error(`exited before listening: ${out}`)))
      })
      // Every later log line now fails with EPIPE.
      child.stdout.destroy()
      for (let i = 0; i < 3; i++) expect((await fetch(`${url}/-/healthz`)).status).toBe(200)
      expect((await fetch(`${url}/demo/key`)).status).toBe(403)
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      child.kill('SIGTERM')
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')])
      expect(code).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
  })
})
