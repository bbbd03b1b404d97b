/**
 * The gateway is stateless (issue 3, item 5): three gateway processes with the same configuration
 * (one RGW upstream, the same keyring and users) behind Debian's nginx as a round-robin load
 * balancer on 127.0.0.1. A multipart upload's Create, UploadParts and Complete land on different
 * instances, as the gateways' own audit logs (one JSON line per request, with operation and
 * requestId) show, and parallel ranged downloads are served by all of them, byte-exact.
 *
 * Under CI a missing nginx, RGW or aws-cli fails this file instead of skipping it.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { hasNginx, startNginx, type NginxProxy } from '../helpers/nginx.js'
import { rgwForTests } from '../helpers/rgw.js'
import { MiB, gatewayConfig, requireTool, sdkClient, sleep, uniqueBucket } from './support.js'

const rgw = await rgwForTests()
const AWS_CLI = '/usr/bin/aws'
const nginxPresent = requireTool('nginx at /usr/sbin/nginx', hasNginx(), 'apt-get install -y nginx')
const awsCliPresent = requireTool('aws-cli v2 at /usr/bin/aws', existsSync(AWS_CLI), 'apt-get install -y awscli')
const INSTANCES = 3

/** One audit record as the gateway prints it (pino JSON, msg "request"). */
interface AuditLine {
  requestId: string
  operation?: string
  key?: string
  status: number
}

function auditLines(gw: GatewayProcess): AuditLine[] {
  return gw.output().split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    try {
      const record = JSON.parse(line) as AuditLine & { msg?: string }
      return record.msg === 'request' ? [record] : []
    } catch {
      return []
    }
  })
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

describe.skipIf(!rgw || !nginxPresent)(`${INSTANCES} gateway instances behind nginx round robin, one RGW upstream`, () => {
  let gateways: GatewayProcess[] = []
  let proxy: NginxProxy
  let s3: S3Client
  let bucket: string
  let creds: { accessKeyId: string; secretAccessKey: string }

  /**
   * Which instance (index) served each request for `key`, by operation, once `expected` requests of
   * `operations` are logged (a record is written as the response starts, and reaches us a little later).
   */
  async function servedBy(key: string, operations: string[], expected: number): Promise<Map<string, number[]>> {
    const deadline = Date.now() + 5_000
    for (;;) {
      const byOperation = new Map<string, number[]>()
      let count = 0
      gateways.forEach((gw, index) => {
        for (const line of auditLines(gw)) {
          if (line.key !== key || !operations.includes(line.operation ?? '')) continue
          expect(line.status, `${line.operation} ${line.requestId} on instance ${index}`).toBeLessThan(300)
          byOperation.set(line.operation!, [...(byOperation.get(line.operation!) ?? []), index])
          count++
        }
      })
      if (count >= expected || Date.now() > deadline) {
        expect(count).toBe(expected)
        return byOperation
      }
      await sleep(50)
    }
  }

  beforeAll(async () => {
    const config = gatewayConfig({
      type: 's3',
      endpoint: rgw!.endpoint,
      region: rgw!.region,
      forcePathStyle: true,
      accessKeyId: rgw!.accessKeyId,
      secretAccessKey: rgw!.secretAccessKey,
    })
    // The same document for every instance; each gets its own (unused) data dir.
    gateways = await Promise.all(Array.from({ length: INSTANCES }, () => startGateway({ config })))
    proxy = await startNginx(gateways.map((gw) => gw.url))
    creds = { accessKeyId: gateways[0]!.accessKeyId, secretAccessKey: gateways[0]!.secretAccessKey }
    s3 = sdkClient(proxy.url, creds)
    bucket = uniqueBucket('lb')
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  })

  afterAll(async () => {
    s3?.destroy()
    await proxy?.stop()
    await Promise.all(gateways.map((gw) => gw.stop()))
  })

  const data = randomBytes(24 * MiB)
  const key = 'lb/upload.bin'

  it('lib-storage Upload (24 MiB, 5 MiB parts, 4 at a time): Create, parts and Complete on different instances', async () => {
    const params = { Bucket: bucket, Key: key, Body: data }
    const upload = new Upload({ client: s3, params, partSize: 5 * MiB, queueSize: 4 })
    const result = await upload.done()
    expect(result.ETag).toMatch(/^"[0-9a-f]{32}-5"$/)
    const served = await servedBy(key, ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'], 7)
    const [create] = served.get('CreateMultipartUpload')!
    const parts = served.get('UploadPart')!
    const [complete] = served.get('CompleteMultipartUpload')!
    expect(parts).toHaveLength(5)
    // An instance that never saw the Create encrypted a part, and the parts came from several instances.
    expect(parts.some((index) => index !== create)).toBe(true)
    expect(new Set(parts).size).toBeGreaterThanOrEqual(2)
    expect(new Set([create, complete, ...parts]).size).toBeGreaterThanOrEqual(2)

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    expect(head).toMatchObject({ ContentLength: data.length, ETag: result.ETag })
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'lb/' }))
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([[key, data.length]])
    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    expect(Buffer.from(await whole.Body!.transformToByteArray()).equals(data)).toBe(true)
  })

  it('8 parallel ranged GETs (part boundaries, suffixes): byte-exact, served by several instances', async () => {
    const size = data.length
    const p = 5 * MiB
    const ranges: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      [`bytes=${p - 10}-${p + 10}`, p - 10, p + 10],
      [`bytes=${2 * p - 65536}-${3 * p + 65536}`, 2 * p - 65536, 3 * p + 65536],
      ['bytes=-1000', size - 1000, size - 1],
      [`bytes=-${4 * MiB + 100}`, size - 4 * MiB - 100, size - 1],
      [`bytes=${20 * MiB + 123}-`, 20 * MiB + 123, size - 1],
      ['bytes=7000000-7000000', 7_000_000, 7_000_000],
      [`bytes=12345-${3 * MiB}`, 12345, 3 * MiB],
    ]
    const gets = (gw: GatewayProcess) => auditLines(gw).filter((l) => l.operation === 'GetObject').length
    const before = gateways.map(gets)
    const results = await Promise.all(
      ranges.map(async ([range]) => {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }))
        return { contentRange: out.ContentRange, body: Buffer.from(await out.Body!.transformToByteArray()) }
      })
    )
    ranges.forEach(([range, from, to], i) => {
      expect(results[i]!.contentRange, range).toBe(`bytes ${from}-${to}/${size}`)
      expect(results[i]!.body.equals(data.subarray(from, to + 1)), range).toBe(true)
    })
    await sleep(200)
    const serving = gateways.filter((gw, i) => gets(gw) > before[i]!)
    expect(serving.length).toBeGreaterThanOrEqual(2)
  })

  it.skipIf(!awsCliPresent)('aws-cli v2 s3 cp of 20 MiB up and down through the balancer, cmp-identical', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3veil-lb-cli-'))
    try {
      const config = join(dir, 'config')
      await writeFile(config, '[default]\nregion = us-east-1\n')
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      }
      const source = join(dir, 'up.bin')
      const back = join(dir, 'down.bin')
      await writeFile(source, randomBytes(20 * MiB))
      await run(AWS_CLI, ['--endpoint-url', proxy.url, 's3', 'cp', source, `s3://${bucket}/lb/cli.bin`], env)
      // aws-cli's default 8 MiB parts: 3 parts, Create and Complete.
      const served = await servedBy('lb/cli.bin', ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'], 5)
      expect(new Set([...served.values()].flat()).size).toBeGreaterThanOrEqual(2)
      await run(AWS_CLI, ['--endpoint-url', proxy.url, 's3', 'cp', `s3://${bucket}/lb/cli.bin`, back], env)
      await run('cmp', [source, back], env)
      const listing = await run(AWS_CLI, ['--endpoint-url', proxy.url, 's3', 'ls', `s3://${bucket}/lb/`], env)
      expect(listing).toContain(`${20 * MiB} cli.bin`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
