/**
 * Multipart uploads through the running gateway when something breaks halfway (issue 3, "What bad
 * input gets"): a client that disconnects in the middle of an UploadPart body, on the disk store and
 * on RGW; and an upstream that fails one part, one kept-aside part or the Complete, shown with a
 * proxy between the gateway and RGW that cuts those connections. The client always gets an answer
 * (an S3 error, never a hang), nothing partial is stored or visible, and the upload stays completable
 * or cleanly abortable, with no internal objects left behind.
 */
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INTERNAL_PREFIX } from '../../src/backend/encrypted-multipart.js'
import { startCuttingProxy, type CuttingProxy } from '../helpers/cutting-proxy.js'
import { rgwForTests } from '../helpers/rgw.js'
import {
  MiB,
  objectPath,
  rgwClient,
  sdkError,
  sha256Hex,
  signRequest,
  sleep,
  startTarget,
  type BackendKind,
  type Target,
} from './support.js'

const rgw = await rgwForTests()
const BACKENDS: BackendKind[] = ['disk', 'rgw']

async function bytesOf(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Buffer> {
  return Buffer.from(await body!.transformToByteArray())
}

/** UploadPart through the gateway; the part's ETag. */
async function part(s3: S3Client, bucket: string, key: string, uploadId: string | undefined, n: number, body: Buffer) {
  const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body }))
  return out.ETag
}

function complete(s3: S3Client, bucket: string, key: string, uploadId: string | undefined, etags: (string | undefined)[]) {
  const Parts: CompletedPart[] = etags.map((etag, i) => ({ PartNumber: i + 1, ETag: etag }))
  return s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts } }))
}

/** The audit records (one JSON line per request) the gateway printed for `key` and `operation`. */
function audited(t: Target, key: string, operation: string): { status: number }[] {
  return t.gw.output().split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    try {
      const record = JSON.parse(line) as { msg?: string; key?: string; operation?: string; status: number }
      return record.msg === 'request' && record.key === key && record.operation === operation ? [record] : []
    } catch {
      return []
    }
  })
}

/**
 * A correctly signed UploadPart whose client sends half of the body and then drops the connection.
 * Resolves once the gateway has logged the request's outcome (it has let go of it).
 */
async function disconnectMidPart(t: Target, bucket: string, key: string, uploadId: string, n: number, body: Buffer) {
  const sent = body.length / 2
  const before = audited(t, key, 'UploadPart').length
  const query = { partNumber: String(n), uploadId }
  const signed = await signRequest(t, {
    method: 'PUT',
    path: objectPath(bucket, key),
    query,
    headers: { 'content-length': String(body.length) },
    payloadHash: sha256Hex(body),
  })
  await new Promise<void>((resolve) => {
    const path = `${objectPath(bucket, key)}?${signed.query}`
    const req = httpRequest({ host: t.host, port: t.port, method: 'PUT', path, headers: signed.headers, agent: false })
    req.on('error', () => resolve())
    req.on('response', (res) => {
      // The gateway may answer before the body is in (it should not: the body is still valid so far).
      res.resume()
      resolve()
    })
    req.write(body.subarray(0, sent), () => {
      // Let the gateway start passing the bytes on before the client goes away.
      setTimeout(() => {
        req.destroy()
        resolve()
      }, 200)
    })
  })
  const deadline = Date.now() + 15_000
  while (audited(t, key, 'UploadPart').length === before) {
    if (Date.now() > deadline) throw new Error('the gateway never finished the abandoned UploadPart')
    await sleep(50)
  }
  return audited(t, key, 'UploadPart').at(-1)!
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`a client that disconnects mid-UploadPart, ${kind} backend`, () => {
    let t: Target
    let s3: S3Client
    let bucket: string

    beforeAll(async () => {
      t = await startTarget(kind, rgw)
      s3 = t.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
      bucket = t.bucketName('cut')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
    })

    /** Nothing is left: no internal objects or upstream uploads (read around the gateway on RGW), and the bucket can go. */
    async function nothingLeft(): Promise<void> {
      if (t.upstream) {
        const internal = await t.upstream.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: INTERNAL_PREFIX }))
        expect(internal.KeyCount).toBe(0)
        const uploads = await t.upstream.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
        expect(uploads.Uploads ?? []).toEqual([])
      }
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
      for (const o of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }))
      // DeleteBucket answers BucketNotEmpty while any internal object is left (docs/format.md 12.5).
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    }

    it('a part cut off halfway is not stored (large or kept aside); re-sent, the upload completes byte-exact', async () => {
      const key = 'disconnect/obj'
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
      const parts = [randomBytes(6 * MiB), randomBytes(2 * MiB)]
      // Part 1 (goes to the upstream part) and part 2 (kept aside) are each cut off halfway first.
      for (const [i, body] of parts.entries()) {
        const record = await disconnectMidPart(t, bucket, key, UploadId!, i + 1, body)
        expect(record.status).toBeGreaterThanOrEqual(400)
      }
      const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))
      expect(listed.Parts ?? []).toEqual([])
      const etags = []
      for (const [i, body] of parts.entries()) etags.push(await part(s3, bucket, key, UploadId, i + 1, body))
      await complete(s3, bucket, key, UploadId, etags)
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      expect((await bytesOf(got.Body)).equals(Buffer.concat(parts))).toBe(true)
      await nothingLeft()
    })

    it('an upload abandoned mid-part is cleanly abortable', async () => {
      const key = 'disconnect/aborted'
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
      await part(s3, bucket, key, UploadId, 1, randomBytes(5 * MiB))
      await disconnectMidPart(t, bucket, key, UploadId!, 2, randomBytes(MiB))
      await part(s3, bucket, key, UploadId, 3, Buffer.from('tail'))
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({ name: 'NotFound' })
      await nothingLeft()
    })
  })
}

describe.skipIf(!rgw)('an upstream that fails mid-upload (a proxy between the gateway and RGW cuts requests)', () => {
  let proxy: CuttingProxy
  let t: Target
  let s3: S3Client
  let direct: S3Client
  let bucket: string
  /** The gateway's upstream requests for an upload of `key`, by what they do. */
  const upstreamPart = (key: string, n: number) => (req: { method?: string; url?: string }) =>
    req.method === 'PUT' && (req.url ?? '').startsWith(`/${bucket}/${key}?`) && (req.url ?? '').includes(`partNumber=${n}&`)
  const keptPart = (n: number) => (req: { method?: string; url?: string }) =>
    req.method === 'PUT' && (req.url ?? '').includes(`/part/${String(n).padStart(5, '0')}`)
  const upstreamComplete = (key: string) => (req: { method?: string; url?: string }) =>
    req.method === 'POST' && (req.url ?? '').startsWith(`/${bucket}/${key}?uploadId=`)

  beforeAll(async () => {
    proxy = await startCuttingProxy(rgw!.endpoint)
    t = await startTarget('rgw', { ...rgw!, endpoint: proxy.url })
    s3 = t.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
    direct = rgwClient(rgw!)
    bucket = t.bucketName('upfail')
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  })

  afterAll(async () => {
    s3?.destroy()
    direct?.destroy()
    await t?.stop()
    await proxy?.stop()
  })

  /**
   * The client's view of a call the armed cuts make fail: a 5xx S3 error, within a bounded time (the
   * cuts cover any retry the gateway's upstream client makes). The proxy is disarmed afterwards.
   */
  async function failsWith5xx(call: Promise<unknown>): Promise<string> {
    const started = Date.now()
    const cutsBefore = proxy.cuts()
    try {
      const err = await sdkError(call)
      expect(err.status).toBeGreaterThanOrEqual(500)
      expect(['ServiceUnavailable', 'InternalError']).toContain(err.name)
      expect(Date.now() - started).toBeLessThan(20_000)
      expect(proxy.cuts()).toBeGreaterThan(cutsBefore)
      return err.name
    } finally {
      proxy.clear()
    }
  }

  async function nothingInternalLeft(): Promise<void> {
    const internal = await direct.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: INTERNAL_PREFIX }))
    expect(internal.Contents?.map((o) => o.Key) ?? []).toEqual([])
  }

  it('a part the upstream drops halfway is a 5xx for the client; the part re-sent, the upload completes', async () => {
    const key = 'fail/part'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    const parts = [randomBytes(5 * MiB), randomBytes(6 * MiB), randomBytes(1000)]
    const e1 = await part(s3, bucket, key, UploadId, 1, parts[0]!)
    // Cut every attempt the gateway's upstream client makes for this part.
    proxy.cut({ match: upstreamPart(key, 2), afterBytes: MiB, times: 5 })
    await failsWith5xx(part(s3, bucket, key, UploadId, 2, parts[1]!))
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))
    expect(listed.Parts?.map((p) => p.PartNumber)).toEqual([1])
    proxy.cut({ match: keptPart(3), afterBytes: 100, times: 5 })
    await failsWith5xx(part(s3, bucket, key, UploadId, 3, parts[2]!))
    const armed = proxy.cuts()
    const e2 = await part(s3, bucket, key, UploadId, 2, parts[1]!)
    const e3 = await part(s3, bucket, key, UploadId, 3, parts[2]!)
    expect(proxy.cuts()).toBe(armed)
    await complete(s3, bucket, key, UploadId, [e1, e2, e3])
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    expect((await bytesOf(got.Body)).equals(Buffer.concat(parts))).toBe(true)
    await nothingInternalLeft()
  })

  it('a failed Complete is a 5xx, nothing visible; a retry completes (also after a lost answer), or abort cleans up', async () => {
    const key = 'fail/complete'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    const parts = [randomBytes(5 * MiB), randomBytes(300)]
    const etags = []
    for (const [i, body] of parts.entries()) etags.push(await part(s3, bucket, key, UploadId, i + 1, body))
    // First the final part (kept-aside last part ‖ trailer) fails, then the upstream Complete itself.
    proxy.cut({ match: upstreamPart(key, 10000), afterBytes: 100, times: 5 })
    await failsWith5xx(complete(s3, bucket, key, UploadId, etags))
    proxy.cut({ match: upstreamComplete(key), times: 5 })
    await failsWith5xx(complete(s3, bucket, key, UploadId, etags))
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({ name: 'NotFound' })
    const stillThere = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))
    expect(stillThere.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, 5 * MiB], [2, 300]])
    await complete(s3, bucket, key, UploadId, etags)
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    expect((await bytesOf(got.Body)).equals(Buffer.concat(parts))).toBe(true)
    await nothingInternalLeft()

    // The upstream completes but its answer is lost (and so is the retry's): the client's next Complete
    // is answered as the first one would have been, and the leftovers go.
    const late = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'fail/late' }))
    const lp = await part(s3, bucket, 'fail/late', late.UploadId, 1, Buffer.from('y'))
    proxy.cut({ match: upstreamComplete('fail/late'), afterUpstream: true, times: 5 })
    await failsWith5xx(complete(s3, bucket, 'fail/late', late.UploadId, [lp]))
    const again = await complete(s3, bucket, 'fail/late', late.UploadId, [lp])
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'fail/late' }))
    expect(again.ETag).toBe(head.ETag)
    await nothingInternalLeft()

    // The same failure before the upstream acted, then an abort: everything the gateway made is gone.
    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'fail/aborted' }))
    const p = await part(s3, bucket, 'fail/aborted', other.UploadId, 1, Buffer.from('x'))
    proxy.cut({ match: upstreamComplete('fail/aborted'), times: 5 })
    await failsWith5xx(complete(s3, bucket, 'fail/aborted', other.UploadId, [p]))
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'fail/aborted', UploadId: other.UploadId }))
    await nothingInternalLeft()
    const uploads = await direct.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    expect(uploads.Uploads ?? []).toEqual([])
  })
})
