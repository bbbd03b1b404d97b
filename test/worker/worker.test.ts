/**
 * Issue 6: the gateway as a Cloudflare Worker, run in workerd (wrangler's unstable_startWorker, the
 * bundle `wrangler deploy` ships, no nodejs_compat) in front of the run's Ceph RGW, driven with
 * @aws-sdk/client-s3, fetch and raw HTTP. A Node gateway (the real process) shares its keyring, users
 * and STS token key: objects cross between the runtimes both ways, and STS sessions the Node gateway
 * issues (LDAP) are honoured by the Worker.
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { LDAP_SUFFIX, ldapForTests } from '../helpers/ldap.js'
import { freePort, rgwForTests } from '../helpers/rgw.js'
import {
  MiB,
  awsChunked,
  crc32cBase64,
  markerBytes,
  objectPath,
  rawRequest,
  rgwClient,
  sdkClient,
  sdkError,
  signRequest,
  uniqueBucket,
} from '../integration/support.js'
import { sharedSetup, startWorker, workerClient, workerForTests, type RunningWorker } from './support.js'

const rgw = await rgwForTests()
const ldap = rgw && (await ldapForTests())
const CAROL_PASSWORD = 'carol pw: ' + randomBytes(4).toString('hex')
// Hashed by the Node CLI (node:crypto's scrypt); the Worker verifies it with the portable scrypt.
const carolHash =
  rgw && execFileSync(process.execPath, ['bin/s3veil.js', 'hash-password'], { cwd: REPO_ROOT, input: CAROL_PASSWORD }).toString().trim()
const ldapConfig = ldap && { url: ldap.url, bindDN: ldap.bindDN, bindPassword: ldap.bindPassword, userBase: `ou=people,${LDAP_SUFFIX}` }
const setup = rgw && sharedSetup(rgw, { basicPasswordHash: carolHash, ldap: ldapConfig })
const worker = setup && (await workerForTests(setup.workerConfig, setup.secrets))

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const bytesOf = async (out: { Body?: { transformToByteArray(): Promise<Uint8Array> } }) => Buffer.from(await out.Body!.transformToByteArray())

describe.skipIf(!worker)('the gateway as a Worker in workerd, on RGW', () => {
  let node: GatewayProcess
  let s3: S3Client
  let viaNode: S3Client
  let upstream: S3Client
  const bucket = uniqueBucket('worker')

  beforeAll(async () => {
    node = await startGateway({ config: setup!.nodeConfig })
    s3 = workerClient(worker!, setup!.alice)
    viaNode = sdkClient(node.url, setup!.alice)
    upstream = rgwClient(rgw!)
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  })

  afterAll(async () => {
    s3?.destroy()
    viaNode?.destroy()
    upstream?.destroy()
    await node?.stop()
    await worker?.stop()
    await ldap?.stop()
  })

  it('puts, heads and gets an object; RGW holds only ciphertext', async () => {
    const body = markerBytes(200_000)
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain/one.bin', Body: body, ContentType: 'application/x-test', Metadata: { colour: 'blue' } }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'plain/one.bin' }))
    expect([head.ContentLength, head.ContentType, head.Metadata]).toEqual([body.length, 'application/x-test', { colour: 'blue' }])
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'plain/one.bin' }))
    // Sent with its length, as on Node: workerd would send a bare stream chunked, without one.
    expect(got.ContentLength).toBe(body.length)
    expect(sha(await bytesOf(got))).toBe(sha(body))
    const stored = await bytesOf(await upstream.send(new GetObjectCommand({ Bucket: bucket, Key: 'plain/one.bin' })))
    expect(stored.length).toBeGreaterThan(body.length)
    expect(stored.includes(Buffer.from('S3VEIL-PLAINTEXT-MARKER-'))).toBe(false)
  })

  it('lists with pagination and a delimiter', async () => {
    const keys = ['list/a', 'list/b', 'list/dir/c', 'list/dir/d', 'list/e']
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))
    const seen: string[] = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', MaxKeys: 2, ContinuationToken: token }))
      seen.push(...(page.Contents ?? []).map((o) => o.Key!))
      token = page.NextContinuationToken
      pages++
    } while (token)
    expect([seen, pages]).toEqual([keys, 3])
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', Delimiter: '/' }))
    expect((grouped.Contents ?? []).map((o) => [o.Key, o.Size])).toEqual([['list/a', 6], ['list/b', 6], ['list/e', 6]])
    expect((grouped.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['list/dir/'])
  })

  it('serves ranges (inside a segment, across segments, suffix) and 416 beyond the end', async () => {
    const body = randomBytes(300_000)
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'range.bin', Body: body }))
    for (const [range, start, end] of [['bytes=10-19', 10, 20], ['bytes=65530-131080', 65530, 131081], ['bytes=-1000', 299_000, 300_000]] as const) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.bin', Range: range }))
      expect([got.ContentRange, got.ContentLength]).toEqual([`bytes ${start}-${end - 1}/300000`, end - start])
      expect((await bytesOf(got)).equals(body.subarray(start, end))).toBe(true)
    }
    expect(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range.bin', Range: 'bytes=300000-' })))).toMatchObject({ status: 416 })
  })

  it('uploads in parts (5 MiB + 1 MiB), reads back whole and across the part boundary, and copies', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(MiB)]
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp.bin' }))
    const etags: string[] = []
    for (const [i, part] of parts.entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp.bin', UploadId, PartNumber: i + 1, Body: part }))
      etags.push(out.ETag!)
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp.bin',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      })
    )
    expect(done.ETag).toMatch(/-2"$/)
    const whole = Buffer.concat(parts)
    expect(sha(await bytesOf(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp.bin' }))))).toBe(sha(whole))
    const edge = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp.bin', Range: `bytes=${5 * MiB - 5}-${5 * MiB + 4}` }))
    expect((await bytesOf(edge)).equals(whole.subarray(5 * MiB - 5, 5 * MiB + 5))).toBe(true)
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'mp-copy.bin', CopySource: `${bucket}/mp.bin` }))
    expect(sha(await bytesOf(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp-copy.bin' }))))).toBe(sha(whole))
  })

  it('accepts presigned URLs (GET and PUT with fetch) and refuses a tampered one', async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned.txt' }), { expiresIn: 300 })
    expect((await fetch(putUrl, { method: 'PUT', body: 'sent with a presigned URL' })).status).toBe(200)
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'presigned.txt' }), { expiresIn: 300 })
    const res = await fetch(getUrl)
    expect([res.status, await res.text()]).toEqual([200, 'sent with a presigned URL'])
    const tampered = await fetch(getUrl.replace('presigned.txt', 'presigned.txx'))
    expect([tampered.status, await tampered.text()]).toEqual([403, expect.stringContaining('<Code>SignatureDoesNotMatch</Code>')])
  })

  it('verifies a signed aws-chunked upload with a CRC32C trailer (chunk signatures on WebCrypto HMAC)', async () => {
    const url = new URL(worker!.url)
    const target = { host: url.hostname, port: Number(url.port), ...setup!.alice }
    const data = randomBytes(150_000)
    const trailers: [string, string][] = [['x-amz-checksum-crc32c', crc32cBase64(data)]]
    const dummy = { key: Buffer.alloc(32), amzDate: '', scope: '', seed: '' }
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32c',
      'content-length': String(awsChunked(data, { chunkSize: 64 * 1024, trailers, signer: dummy }).length),
    }
    const path = objectPath(bucket, 'chunked.bin')
    const signed = await signRequest(target, { method: 'PUT', path, headers, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' })
    const body = awsChunked(data, { chunkSize: 64 * 1024, trailers, signer: signed.chunkSigner })
    const res = await rawRequest(target, { method: 'PUT', path, headers: signed.headers, body })
    expect(res.status, res.body.toString()).toBe(200)
    expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'chunked.bin' })))).equals(data)).toBe(true)
    const forged = awsChunked(data, { chunkSize: 64 * 1024, trailers, signer: signed.chunkSigner, tamperChunk: { index: 1 } })
    const refused = await rawRequest(target, { method: 'PUT', path: objectPath(bucket, 'forged.bin'), headers: signed.headers, body: forged })
    expect(refused.status).toBe(403)
    expect(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'forged.bin' })))).toMatchObject({ status: 404 })
  })

  it('checks Content-MD5 and SHA-1/CRC64NVME checksums in workerd (its native DigestStream, the SDK\'s CRC64)', async () => {
    const body = randomBytes(300_000)
    const md5 = createHash('md5').update(body).digest('base64')
    for (const ChecksumAlgorithm of ['SHA1', 'CRC64NVME'] as const) {
      const key = `sums/${ChecksumAlgorithm}`
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: md5, ChecksumAlgorithm }))
      expect(sha(await bytesOf(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))))).toBe(sha(body))
    }
    const wrongMd5 = createHash('md5').update('something else').digest('base64')
    const refused = await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sums/bad', Body: body, ContentMD5: wrongMd5 })))
    expect([refused.name, refused.status]).toEqual(['BadDigest', 400])
    const wrongSha1 = createHash('sha1').update('something else').digest('base64')
    const refusedSha1 = await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sums/bad', Body: body, ChecksumSHA1: wrongSha1 })))
    expect([refusedSha1.name, refusedSha1.status]).toEqual(['BadDigest', 400])
  })

  it('HTTP Basic against a local user whose hash the Node CLI made', async () => {
    const auth = (password: string) => ({ authorization: 'Basic ' + Buffer.from(`carol:${password}`).toString('base64') })
    const put = await fetch(`${worker!.url}/${bucket}/basic.txt`, { method: 'PUT', headers: auth(CAROL_PASSWORD), body: 'from curl-like Basic' })
    expect(put.status, await put.text()).toBe(200)
    const get = await fetch(`${worker!.url}/${bucket}/basic.txt`, { headers: auth(CAROL_PASSWORD) })
    expect([get.status, await get.text()]).toEqual([200, 'from curl-like Basic'])
    const wrong = await fetch(`${worker!.url}/${bucket}/basic.txt`, { headers: auth('not it') })
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([401, expect.stringContaining('Basic')])
  })

  it('enforces policies: the reader may read public/ only, and may not write', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'public/p.txt', Body: 'public' }))
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'private/q.txt', Body: 'private' }))
    const reader = workerClient(worker!, setup!.reader)
    expect(await (await reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'public/p.txt' }))).Body!.transformToString()).toBe('public')
    expect(await sdkError(reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'private/q.txt' })))).toMatchObject({ name: 'AccessDenied', status: 403 })
    expect(await sdkError(reader.send(new PutObjectCommand({ Bucket: bucket, Key: 'public/w.txt', Body: 'x' })))).toMatchObject({ name: 'AccessDenied', status: 403 })
    reader.destroy()
  })

  it('objects cross between the Node gateway and the Worker both ways, byte for byte (same keyring, same RGW)', async () => {
    const fromNode = randomBytes(700_000)
    await viaNode.send(new PutObjectCommand({ Bucket: bucket, Key: 'cross/from-node.bin', Body: fromNode }))
    expect((await bytesOf(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cross/from-node.bin' })))).equals(fromNode)).toBe(true)
    const fromWorker = randomBytes(700_000)
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cross/from-worker.bin', Body: fromWorker }))
    expect((await bytesOf(await viaNode.send(new GetObjectCommand({ Bucket: bucket, Key: 'cross/from-worker.bin' })))).equals(fromWorker)).toBe(true)
    // A ranged read of the Worker's multipart object through Node, and the stored bytes are ciphertext.
    const mp = await viaNode.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp.bin', Range: 'bytes=5242870-5242889' }))
    expect((await bytesOf(mp)).length).toBe(20)
    const stored = await bytesOf(await upstream.send(new GetObjectCommand({ Bucket: bucket, Key: 'cross/from-worker.bin' })))
    expect(stored.length).toBeGreaterThan(fromWorker.length)
    expect(stored.includes(fromWorker.subarray(1000, 1064))).toBe(false)
  })

  it.skipIf(!ldap)('honours an STS session the Node gateway issued to an LDAP user; a forged token is refused', async () => {
    const form = new URLSearchParams({ Action: 'AssumeRoleWithLDAPIdentity', Version: '2011-06-15', LDAPUsername: 'newton', LDAPPassword: 'password' })
    const res = await fetch(`${node.url}/`, { method: 'POST', body: form })
    const xml = await res.text()
    expect(res.status, xml).toBe(200)
    const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)![1]!
    const creds = { accessKeyId: field('AccessKeyId'), secretAccessKey: field('SecretAccessKey'), sessionToken: field('SessionToken') }
    const session = workerClient(worker!, creds)
    await session.send(new PutObjectCommand({ Bucket: bucket, Key: 'sts/newton.txt', Body: 'by a session' }))
    expect(await (await viaNode.send(new GetObjectCommand({ Bucket: bucket, Key: 'sts/newton.txt' }))).Body!.transformToString()).toBe('by a session')
    const token = creds.sessionToken
    const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21)
    const forged = workerClient(worker!, { ...creds, sessionToken: flipped })
    const forgedAtNode = sdkClient(node.url, creds, { credentials: { ...creds, sessionToken: flipped } })
    const refused = await sdkError(forged.send(new GetObjectCommand({ Bucket: bucket, Key: 'sts/newton.txt' })))
    // Refused exactly as the Node gateway refuses it.
    expect(refused).toMatchObject({ name: 'InvalidToken', status: 400 })
    const atNode = await sdkError(forgedAtNode.send(new GetObjectCommand({ Bucket: bucket, Key: 'sts/newton.txt' })))
    expect([atNode.name, atNode.status]).toEqual([refused.name, refused.status])
    forgedAtNode.destroy()
    // The Worker does not issue sessions: STS needs LDAP, which is Node-only.
    const issue = await fetch(`${worker!.url}/`, { method: 'POST', body: form })
    expect(issue.status).not.toBe(200)
    session.destroy()
    forged.destroy()
  })

  it('logged no secret', () => {
    const output = worker!.output()
    expect(output).toContain('"msg":"request"')
    for (const secret of Object.values(setup!.secrets)) expect(output).not.toContain(secret)
    expect(output).not.toContain(CAROL_PASSWORD)
  })
})

describe.skipIf(!worker)('an unreachable upstream', () => {
  it('answers 503 ServiceUnavailable, saying nothing about where the upstream is', async () => {
    const port = await freePort()
    const config = { ...setup!.workerConfig, storage: { ...(setup!.workerConfig.storage as object), endpoint: `http://127.0.0.1:${port}` } }
    const down = await startWorker(config, setup!.secrets)
    try {
      const client = workerClient(down, setup!.alice)
      const err = await sdkError(client.send(new GetObjectCommand({ Bucket: 'any-bucket', Key: 'k' })))
      expect([err.name, err.status]).toEqual(['ServiceUnavailable', 503])
      expect(err.message).not.toContain(String(port))
      client.destroy()
    } finally {
      await down.stop()
    }
  })
})

describe.skipIf(!worker)('configurations the Worker refuses', () => {
  const cases: [string, (config: Record<string, unknown>) => Record<string, unknown> | string, string][] = [
    ['disk storage', (c) => ({ ...c, storage: { type: 'disk' } }), 'storage: the disk backend needs Node'],
    ['LDAP', (c) => ({ ...c, ldap: { url: 'ldap://127.0.0.1:1', userDNTemplate: 'uid={username},ou=people' } }), 'ldap: LDAP needs TCP sockets'],
    ['file secrets', (c) => ({ ...c, keyring: { current: 'k1', keys: [{ id: 'k1', key: { file: '/etc/key' } }] } }), 'keyring key k1: {"file": …} secrets need Node'],
    // A trailing comma on line 3, next to an inline secret that must not be quoted back.
    ['broken JSON', () => '{\n  "logLevel": "info",\n  "inline": "s3veil-inline-secret-0001",\n}', 'S3VEIL_CONFIG:4:1: config: not valid JSON'],
  ]
  it.each(cases)('%s: every request gets a 500 naming the setting, and the log says why', async (_name, change, message) => {
    const refused: RunningWorker = await startWorker(change(setup!.workerConfig), setup!.secrets)
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${refused.url}/some-bucket/key`)
        const body = await res.text()
        expect(res.status).toBe(500)
        expect(body).toContain('<Code>InternalError</Code>')
        expect(body).toContain(`s3veil cannot start on Workers: ${message}`)
        for (const secret of [...Object.values(setup!.secrets), 's3veil-inline-secret-0001']) expect(body).not.toContain(secret)
      }
      expect(refused.output()).toContain('"msg":"configuration refused"')
    } finally {
      await refused.stop()
    }
  })
})
