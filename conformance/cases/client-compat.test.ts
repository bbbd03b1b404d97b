/**
 * @module conformance/cases/client-compat
 * Each case of ../shared/cases/client-compat.md (real failures S3-compatible servers have had with
 * stock clients) as one named case `bh-NN.<short>`, driven with @aws-sdk/client-s3 and hand-built
 * requests against the target. What the stock command-line clients do is the client matrix's part
 * (conformance/clients/). Each case asserts what AWS documents, as quoted in that file.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, fetchPresigned, hostHeader, signedRequest, xmlValue, xmlValues } from '../support/http.js'
import { putInForm } from '../support/payload.js'
import {
  CHECKSUMS,
  CHECKSUM_NAMES,
  MiB,
  bytesOf,
  expectS3Error,
  getBytes,
  md5Base64,
  md5Hex,
  put,
  randomData,
  sdkError,
  sha256,
} from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

/** At the SDK's current defaults (CRC32 on uploads, response checksum validation). */
const s3 = s3Client()
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('compat')
})
afterAll(() => s3.destroy())

const MD5_ETAG = /^"[0-9a-f]{32}(-\d+)?"$/

async function headStatus(key: string): Promise<number> {
  return (await signedRequest({ method: 'HEAD', bucket, key })).status
}

async function multipart(key: string, parts: Buffer[], create: Record<string, unknown> = {}, complete: Record<string, unknown> = {}) {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...create }))
  const done: CompletedPart[] = []
  for (const [i, body] of parts.entries()) {
    const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }))
    done.push({ PartNumber: i + 1, ETag: out.ETag })
  }
  const out = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done }, ...complete })
  )
  return { uploadId: UploadId!, parts: done, out }
}

function deleteBody(keys: string[]): Buffer {
  return Buffer.from(`<Delete>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`)
}

area('client-compat', () => {
  // A. aws-chunked, streaming signatures, default integrity -------------------------------------

  conformanceCase('bh-01.unsigned-trailer', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER with crc32 and crc64nvme trailers is stored as sent; a wrong trailer is 400 BadDigest, no object', async () => {
    for (const algorithm of ['CRC32', 'CRC64NVME'] as const) {
      const data = randomData(100_000)
      const key = `bh01/${algorithm}`
      const res = await putInForm(bucket, { form: 'streaming-unsigned-trailer', key, data, algorithm })
      expect(res.status, res.text.slice(0, 200)).toBe(200)
      expect((await getBytes(s3, bucket, key)).equals(data)).toBe(true)
    }
    const bad = await putInForm(bucket, { form: 'streaming-unsigned-trailer', key: 'bh01/bad', data: randomData(1000), algorithm: 'CRC32', checksum: CHECKSUMS.CRC32(Buffer.from('x')) })
    expect({ status: bad.status, code: errorCode(bad) }).toEqual({ status: 400, code: 'BadDigest' })
    expect(await headStatus('bh01/bad')).toBe(404)
    const signed = await putInForm(bucket, { form: 'streaming-signed-trailer', key: 'bh01/signed', data: randomData(70_000), algorithm: 'CRC32' })
    expect(signed.status).toBe(200)
  })

  conformanceCase('bh-02.trailer-without-content-length', 'a streaming trailer upload with Transfer-Encoding: chunked and no Content-Length is accepted; size from x-amz-decoded-content-length', async () => {
    const data = randomData(150_000)
    const res = await putInForm(bucket, { form: 'streaming-unsigned-trailer', key: 'bh02/obj', data, algorithm: 'CRC32', transferChunked: true })
    expect(res.status, res.text.slice(0, 200)).toBe(200)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh02/obj' }))
    expect(head.ContentLength).toBe(data.length)
  })

  conformanceCase('bh-04.framing-not-stored', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD without Content-Encoding, or with aws-chunked,gzip: only the decoded bytes are stored', async () => {
    const data = randomData(100_000)
    const noEncoding = await putInForm(bucket, { form: 'streaming-signed', key: 'bh04/plain', data, algorithm: 'CRC32', contentEncoding: null })
    expect(noEncoding.status, noEncoding.text.slice(0, 200)).toBe(200)
    expect((await getBytes(s3, bucket, 'bh04/plain')).equals(data)).toBe(true)
    const gzip = await putInForm(bucket, { form: 'streaming-signed', key: 'bh04/gzip', data, algorithm: 'CRC32', contentEncoding: 'aws-chunked,gzip' })
    expect(gzip.status, gzip.text.slice(0, 200)).toBe(200)
    const get = await signedRequest({ method: 'GET', bucket, key: 'bh04/gzip' })
    expect(get.body.equals(data)).toBe(true)
    expect(get.headers['content-encoding']).toBe('gzip')
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'bh04/part' }))
    const part = await putInForm(bucket, { form: 'streaming-signed', key: 'bh04/part', data, algorithm: 'CRC32', contentEncoding: null, part: { uploadId: UploadId!, partNumber: 1 } })
    expect(part.status).toBe(200)
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'bh04/part', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.headers.etag as string }] } }))
    expect((await getBytes(s3, bucket, 'bh04/part')).equals(data)).toBe(true)
  })

  conformanceCase('bh-06.sdk-checksums', 'SDK PutObject with each ChecksumAlgorithm: accepted and echoed; lib-storage 10 MiB at defaults; a wrong value is BadDigest', async () => {
    const data = randomData(20_000)
    for (const algorithm of CHECKSUM_NAMES) {
      const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bh06/${algorithm}`, Body: data, ChecksumAlgorithm: algorithm as ChecksumAlgorithm }))
      expect(out[`Checksum${algorithm}` as 'ChecksumCRC32'], algorithm).toBe(CHECKSUMS[algorithm](data))
    }
    const big = randomData(10 * MiB + 5)
    await new Upload({ client: s3, params: { Bucket: bucket, Key: 'bh06/big', Body: big } }).done()
    expect(sha256(await getBytes(s3, bucket, 'bh06/big'))).toBe(sha256(big))
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bh06/bad', Body: data, ChecksumCRC32: CHECKSUMS.CRC32(Buffer.from('x')) })),
      'BadDigest',
      400
    )
  }, 120_000)

  conformanceCase('bh-07.checksum-mode-without-stored', 'GET and HEAD with x-amz-checksum-mode: ENABLED on an object stored without checksum: 200', async () => {
    const res = await signedRequest({ method: 'PUT', bucket, key: 'bh07/plain', body: Buffer.from('no checksum') })
    expect(res.status).toBe(200)
    for (const method of ['HEAD', 'GET']) {
      const out = await signedRequest({ method, bucket, key: 'bh07/plain', headers: { 'x-amz-checksum-mode': 'ENABLED' } })
      expect({ method, status: out.status }).toEqual({ method, status: 200 })
    }
    const part = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'bh07/mp' }))
    const up = await signedRequest({
      method: 'PUT', bucket, key: 'bh07/mp', query: { partNumber: '1', uploadId: part.UploadId! },
      headers: { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': CHECKSUMS.CRC32(Buffer.from('p')) }, body: Buffer.from('p'),
    })
    expect(up.status).toBe(200)
  })

  conformanceCase('bh-08.trailer-checksum', 'a SHA256 checksum sent in the trailer (and in a header) is checked, echoed on PUT, and returned by HEAD with checksum mode', async () => {
    const data = randomData(50_000)
    const expected = CHECKSUMS.SHA256(data)
    for (const form of ['streaming-signed-trailer', 'signed-payload'] as const) {
      const key = `bh08/${form}`
      const res = await putInForm(bucket, { form, key, data, algorithm: 'SHA256' })
      expect(res.status).toBe(200)
      expect(res.headers['x-amz-checksum-sha256']).toBe(expected)
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))
      expect(head.ChecksumSHA256).toBe(expected)
    }
  })

  // B. Content-MD5, checksums ------------------------------------------------------------------

  conformanceCase('bh-09.complete-without-checksum-type', 'Complete of a CRC64NVME (FULL_OBJECT) or CRC32 upload without x-amz-checksum-type succeeds; lib-storage with each algorithm', async () => {
    for (const algorithm of ['CRC64NVME', 'CRC32'] as const) {
      const key = `bh09/${algorithm}`
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: algorithm }))
      const data = randomData(1000)
      const part = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: data, ChecksumAlgorithm: algorithm })
      )
      const checksum = { [`Checksum${algorithm}`]: part[`Checksum${algorithm}` as 'ChecksumCRC32'] }
      await s3.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ...checksum }] } })
      )
      expect((await getBytes(s3, bucket, key)).equals(data)).toBe(true)
    }
    const data = randomData(5 * MiB + 1000)
    for (const algorithm of CHECKSUM_NAMES) {
      const key = `bh09/upload-${algorithm}`
      await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: data, ChecksumAlgorithm: algorithm as ChecksumAlgorithm }, partSize: 5 * MiB }).done()
      expect(sha256(await getBytes(s3, bucket, key)), algorithm).toBe(sha256(data))
    }
  }, 180_000)

  conformanceCase('bh-11.ranged-get-checksum', 'a ranged GET with checksum mode of a multipart object carries no whole-object checksum and the SDK accepts it', async () => {
    const data = randomData(6 * MiB)
    await new Upload({ client: s3, params: { Bucket: bucket, Key: 'bh11/mp', Body: data, ChecksumAlgorithm: 'CRC32' }, partSize: 5 * MiB }).done()
    const raw = await signedRequest({ method: 'GET', bucket, key: 'bh11/mp', headers: { range: 'bytes=100-1123', 'x-amz-checksum-mode': 'ENABLED' } })
    expect(raw.status).toBe(206)
    expect(Object.keys(raw.headers).filter((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-type')).toEqual([])
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bh11/mp', Range: 'bytes=0-1023', ChecksumMode: 'ENABLED' }))
    expect((await bytesOf(out.Body)).equals(data.subarray(0, 1024))).toBe(true)
    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bh11/mp', ChecksumMode: 'ENABLED' }))
    expect(sha256(await bytesOf(whole.Body))).toBe(sha256(data))
  }, 120_000)

  conformanceCase('bh-12.content-md5-errors', 'Content-MD5 of other data: 400 BadDigest; empty or malformed: 400 InvalidDigest; nothing stored', async () => {
    const body = Buffer.from('md5 body')
    const cases: [string, string][] = [
      [md5Base64('other data'), 'BadDigest'],
      ['', 'InvalidDigest'],
      ['not-base64!!', 'InvalidDigest'],
      [Buffer.from('short').toString('base64'), 'InvalidDigest'],
    ]
    for (const [value, code] of cases) {
      const res = await signedRequest({ method: 'PUT', bucket, key: 'bh12/obj', body, headers: { 'content-md5': value } })
      expect({ value, status: res.status, code: errorCode(res) }).toEqual({ value, status: 400, code })
    }
    expect(await headStatus('bh12/obj')).toBe(404)
    const ok = await signedRequest({ method: 'PUT', bucket, key: 'bh12/obj', body, headers: { 'content-md5': md5Base64(body) } })
    expect(ok.status).toBe(200)
  })

  conformanceCase('bh-13.delete-objects-integrity', 'DeleteObjects with Content-MD5, with only CRC32, with only CRC64NVME: 200; with neither: 400', async () => {
    const headersFor: Record<string, (b: Buffer) => Record<string, string>> = {
      md5: (b) => ({ 'content-md5': md5Base64(b) }),
      crc32: (b) => ({ 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': CHECKSUMS.CRC32(b) }),
      crc64nvme: (b) => ({ 'x-amz-sdk-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-crc64nvme': CHECKSUMS.CRC64NVME(b) }),
    }
    for (const [name, headers] of Object.entries(headersFor)) {
      await put(s3, bucket, `bh13/${name}`, name)
      const body = deleteBody([`bh13/${name}`])
      const res = await signedRequest({ method: 'POST', bucket, query: { delete: '' }, body, headers: headers(body) })
      expect({ name, status: res.status }).toEqual({ name, status: 200 })
      expect(await headStatus(`bh13/${name}`)).toBe(404)
    }
    await put(s3, bucket, 'bh13/none', 'none')
    const res = await signedRequest({ method: 'POST', bucket, query: { delete: '' }, body: deleteBody(['bh13/none']) })
    expect(res.status).toBe(400)
    expect(await headStatus('bh13/none')).toBe(200)
    // The SDK's own DeleteObjects (CRC32 by default) works too.
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'bh13/none' }] } }))
    expect(out.Deleted?.map((d) => d.Key)).toEqual(['bh13/none'])
  })

  // C. SigV4 canonicalization, presign, skew, host -------------------------------------------------

  conformanceCase('bh-14.key-characters', 'keys a b.txt, a+b.txt, a%b.txt, ü/ñ.txt, x~y.txt, (1).txt, k=v/x: distinct, listed exactly, each GETs its bytes', async () => {
    const keys = ['a b.txt', 'a+b.txt', 'a%b.txt', 'ü/ñ.txt', 'x~y.txt', '(1).txt', 'k=v/x'].map((k) => `bh14/${k}`)
    for (const key of keys) await put(s3, bucket, key, `body of ${key}`)
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bh14/' }))
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([...keys].sort())
    for (const key of keys) expect((await getBytes(s3, bucket, key)).toString()).toBe(`body of ${key}`)
  })

  conformanceCase('bh-17.presign-lifetime', 'a URL signed 20 minutes ago for an hour works; one that expired (1 s) gives 403 AccessDenied', async () => {
    await put(s3, bucket, 'bh17/obj', 'presigned')
    const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'bh17/obj' }), { expiresIn: 3600, signingDate: new Date(Date.now() - 20 * 60_000) })
    const ok = await fetchPresigned(old)
    expect(ok.status).toBe(200)
    expect(ok.text).toBe('presigned')
    const short = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'bh17/obj' }), { expiresIn: 1, signingDate: new Date(Date.now() - 3_000) })
    const expired = await fetchPresigned(short)
    expect({ status: expired.status, code: errorCode(expired) }).toEqual({ status: 403, code: 'AccessDenied' })
  })

  conformanceCase('bh-18.skew-error-fields', 'a request dated 16 minutes ago: 403 RequestTimeTooSkewed with RequestTime, ServerTime, MaxAllowedSkewMilliseconds; Date header', async () => {
    await put(s3, bucket, 'bh18/obj', 'x')
    const res = await signedRequest({ method: 'GET', bucket, key: 'bh18/obj', date: new Date(Date.now() - 16 * 60_000) })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'RequestTimeTooSkewed' })
    expect(xmlValue(res.text, 'RequestTime')).toBeTruthy()
    expect(xmlValue(res.text, 'ServerTime')).toBeTruthy()
    expect(xmlValue(res.text, 'MaxAllowedSkewMilliseconds')).toBe('900000')
    expect(xmlValue(res.text, 'RequestId')).toBeTruthy()
    expect(Math.abs(Date.parse(res.headers.date!) - Date.now())).toBeLessThan(60_000)
  })

  conformanceCase('bh-19.host-with-port', 'the signed Host carries the endpoint\'s port: header-signed and presigned requests succeed (path style)', async () => {
    await put(s3, bucket, 'bh19/obj', 'port')
    expect(hostHeader()).toMatch(/:\d+$|^[^:]+$/)
    const res = await signedRequest({ method: 'GET', bucket, key: 'bh19/obj' })
    expect(res.status).toBe(200)
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'bh19/obj' }), { expiresIn: 60 })
    expect((await fetchPresigned(url)).text).toBe('port')
  })

  conformanceCase('bh-20.errors-are-xml', 'error answers to odd requests are XML <Error> with Code and RequestId, plus x-amz-request-id', async () => {
    const requests: { method: string; bucket: string; key?: string; query?: Record<string, string> }[] = [
      { method: 'GET', bucket: `${bucket}-nope`, key: 'k' },
      { method: 'GET', bucket, key: 'bh20/missing' },
      { method: 'GET', bucket, key: 'bh20/k', query: { uploadId: 'bogus-upload-id' } },
      { method: 'DELETE', bucket: `${bucket}-nope` },
      { method: 'PUT', bucket, key: 'bh20/k', query: { partNumber: '1', uploadId: 'bogus-upload-id' } },
    ]
    for (const req of requests) {
      const res = await signedRequest(req)
      const what = `${req.method} ${req.bucket}/${req.key ?? ''}?${new URLSearchParams(req.query ?? {})}`
      expect(res.status, what).toBeGreaterThanOrEqual(400)
      expect(res.headers['content-type'], what).toMatch(/xml/)
      expect(res.text, what).toMatch(/<Error>[\s\S]*<Code>\w+<\/Code>[\s\S]*<RequestId>[^<]+<\/RequestId>/)
      expect(res.headers['x-amz-request-id'], what).toBeTruthy()
    }
  })

  // D. Listing ---------------------------------------------------------------------------------------

  conformanceCase('bh-22.list-truncation', 'ListObjectsV2 with 3 objects and max-keys 0, 2, 3, 4: IsTruncated, token and KeyCount exact; fetch-owner; start-after echoed', async () => {
    for (const k of ['1', '2', '3']) await put(s3, bucket, `bh22/${k}`, k)
    for (const maxKeys of [0, 2, 3, 4]) {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bh22/', MaxKeys: maxKeys }))
      const truncated = maxKeys === 2
      expect({ maxKeys, truncated: out.IsTruncated, token: out.NextContinuationToken !== undefined, count: out.KeyCount }).toEqual({
        maxKeys, truncated, token: truncated, count: Math.min(maxKeys, 3),
      })
    }
    const owner = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bh22/', FetchOwner: true }))
    expect(owner.Contents?.every((o) => o.Owner?.ID)).toBe(true)
    const noOwner = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bh22/' }))
    expect(noOwner.Contents?.some((o) => o.Owner)).toBe(false)
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bh22/', StartAfter: 'bh22/1' }))
    expect(after.StartAfter).toBe('bh22/1')
    expect(after.Contents?.map((o) => o.Key)).toEqual(['bh22/2', 'bh22/3'])
  })

  conformanceCase('bh-23.encoding-type-url', 'encoding-type=url with keys a b.txt, a+b.txt, 100%.csv, ü.txt and 0x01: EncodingType echoed, each key decodes exactly', async () => {
    const keys = ['a b.txt', 'a+b.txt', '100%.csv', 'ü.txt', 'ctl\u0001.txt'].map((k) => `bh23/${k}`)
    for (const key of keys) await put(s3, bucket, key, key)
    const queries: Record<string, string>[] = [{ 'list-type': '2', prefix: 'bh23/', 'encoding-type': 'url' }, { prefix: 'bh23/', 'encoding-type': 'url' }]
    for (const query of queries) {
      const res = await signedRequest({ method: 'GET', bucket, query })
      expect(res.status).toBe(200)
      expect(xmlValue(res.text, 'EncodingType')).toBe('url')
      const decoded = xmlValues(res.text, 'Key').map((k) => decodeURIComponent(k.replace(/\+/g, '%20')))
      expect(decoded.sort()).toEqual([...keys].sort())
    }
  })

  // E. ETags --------------------------------------------------------------------------------------------

  conformanceCase('bh-25.quoted-etags', 'every ETag is quoted hex (PUT, GET, HEAD, ListObjectsV2, CopyObject, UploadPart, Complete, ListParts)', async () => {
    const put1 = await put(s3, bucket, 'bh25/obj', 'etag')
    const seen: [string, string | undefined][] = [['PutObject', put1.ETag]]
    seen.push(['GetObject', (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bh25/obj' }))).ETag])
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh25/obj' }))
    seen.push(['HeadObject', head.ETag])
    const list = await signedRequest({ method: 'GET', bucket, query: { 'list-type': '2', prefix: 'bh25/' } })
    for (const e of xmlValues(list.text, 'ETag')) seen.push(['ListObjectsV2', e.replace(/&quot;/g, '"')])
    const copy = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'bh25/copy', CopySource: `${bucket}/bh25/obj` }))
    seen.push(['CopyObject', copy.CopyObjectResult?.ETag])
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'bh25/mp' }))
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'bh25/mp', UploadId, PartNumber: 1, Body: 'p' }))
    seen.push(['UploadPart', part.ETag])
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'bh25/mp', UploadId }))
    seen.push(['ListParts', parts.Parts?.[0]?.ETag])
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'bh25/mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }))
    seen.push(['CompleteMultipartUpload', done.ETag])
    expect(seen.filter(([, e]) => !MD5_ETAG.test(e ?? ''))).toEqual([])
    expect(head.ETag).toBe(put1.ETag)
  })

  conformanceCase('bh-26.multipart-etag', 'multipart ETag (parts 5, 5, 1 MiB) is the MD5 of the part MD5s with -3, the same on Complete, HEAD and LIST', async () => {
    const parts = [randomData(5 * MiB), randomData(5 * MiB), randomData(MiB)]
    const { out } = await multipart('bh26/mp', parts)
    const md5s = Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()))
    const expected = `"${md5Hex(md5s)}-3"`
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh26/mp' }))
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bh26/' }))
    expect({ complete: out.ETag, head: head.ETag, list: list.Contents?.[0]?.ETag }).toEqual({ complete: expected, head: expected, list: expected })
  }, 120_000)

  conformanceCase('bh-27.single-put-etag-md5', 'a single PUT\'s ETag is the hex MD5 of the content', async () => {
    const data = randomData(10_000)
    const out = await put(s3, bucket, 'bh27/obj', data)
    expect(out.ETag).toBe(`"${md5Hex(data)}"`)
  })

  // F. Range, HEAD, conditionals ----------------------------------------------------------------------

  conformanceCase('bh-28.range-table', '100-byte object: 0-0, 99-99, 0- (206); 50-1000 clamped to 50-99; 100- and 1000-2000: 416 InvalidRange', async () => {
    const data = randomData(100)
    await put(s3, bucket, 'bh28/100', data)
    const table: [string, number, string | undefined, number][] = [
      ['bytes=0-0', 206, 'bytes 0-0/100', 1],
      ['bytes=99-99', 206, 'bytes 99-99/100', 1],
      ['bytes=0-', 206, 'bytes 0-99/100', 100],
      ['bytes=50-1000', 206, 'bytes 50-99/100', 50],
      ['bytes=100-', 416, 'bytes */100', -1],
      ['bytes=1000-2000', 416, 'bytes */100', -1],
    ]
    for (const [range, status, contentRange, length] of table) {
      const res = await signedRequest({ method: 'GET', bucket, key: 'bh28/100', headers: { range } })
      expect({ range, status: res.status, contentRange: res.headers['content-range'] }).toEqual({ range, status, contentRange })
      if (status === 416) expect(errorCode(res)).toBe('InvalidRange')
      else expect(res.body.length).toBe(length)
    }
  })

  conformanceCase('bh-30.range-on-empty', 'ranges on a 0-byte object: bytes=0- and bytes=0-0 give 416; bytes=-1 never a 5xx or a negative Content-Range', async () => {
    await put(s3, bucket, 'bh30/empty', Buffer.alloc(0))
    for (const range of ['bytes=0-', 'bytes=0-0']) {
      const res = await signedRequest({ method: 'GET', bucket, key: 'bh30/empty', headers: { range } })
      expect({ range, status: res.status, code: errorCode(res) }).toEqual({ range, status: 416, code: 'InvalidRange' })
    }
    const suffix = await signedRequest({ method: 'GET', bucket, key: 'bh30/empty', headers: { range: 'bytes=-1' } })
    expect(suffix.status).toBeLessThan(500)
    expect(suffix.headers['content-range'] ?? '').not.toMatch(/--|-1\//)
    const sdk = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bh30/empty' }))
    expect((await bytesOf(sdk.Body)).length).toBe(0)
  })

  conformanceCase('bh-31.malformed-range-ignored', 'Range: bytes=abc, bytes=33-10, items=0-5 are ignored: 200 with the whole object', async () => {
    const data = randomData(64)
    await put(s3, bucket, 'bh31/obj', data)
    for (const range of ['bytes=abc', 'bytes=33-10', 'items=0-5']) {
      const res = await signedRequest({ method: 'GET', bucket, key: 'bh31/obj', headers: { range } })
      expect({ range, status: res.status, length: res.body.length }).toEqual({ range, status: 200, length: 64 })
    }
  })

  conformanceCase('bh-32.if-none-match-star', 'PutObject and CompleteMultipartUpload with If-None-Match: * on an existing key: 412, object unchanged', async () => {
    await put(s3, bucket, 'bh32/lock', 'original', { IfNoneMatch: '*' })
    await expectS3Error(put(s3, bucket, 'bh32/lock', 'overwrite', { IfNoneMatch: '*' }), 'PreconditionFailed', 412)
    const err = await sdkError(multipart('bh32/lock', [Buffer.from('via multipart')], {}, { IfNoneMatch: '*' }))
    expect({ code: err.name, status: err.status }).toEqual({ code: 'PreconditionFailed', status: 412 })
    expect((await getBytes(s3, bucket, 'bh32/lock')).toString()).toBe('original')
  })

  conformanceCase('bh-33.error-bodies', 'GET 404s carry XML (NoSuchKey, NoSuchBucket); HEAD 404 has no body; a HEAD matches its GET', async () => {
    const key = await signedRequest({ method: 'GET', bucket, key: 'bh33/missing' })
    expect({ status: key.status, code: errorCode(key) }).toEqual({ status: 404, code: 'NoSuchKey' })
    const bkt = await signedRequest({ method: 'GET', bucket: `${bucket}-nope`, key: 'k' })
    expect({ status: bkt.status, code: errorCode(bkt) }).toEqual({ status: 404, code: 'NoSuchBucket' })
    const head = await signedRequest({ method: 'HEAD', bucket, key: 'bh33/missing' })
    expect({ status: head.status, body: head.body.length }).toEqual({ status: 404, body: 0 })
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh33/missing' })), 'NotFound', 404)
    await put(s3, bucket, 'bh33/obj', 'twelve bytes', { ContentType: 'text/plain' })
    const h = await signedRequest({ method: 'HEAD', bucket, key: 'bh33/obj' })
    const g = await signedRequest({ method: 'GET', bucket, key: 'bh33/obj' })
    expect({ status: h.status, length: h.headers['content-length'], body: h.body.length }).toEqual({ status: 200, length: '12', body: 0 })
    for (const name of ['etag', 'last-modified', 'content-type']) expect(h.headers[name], name).toBe(g.headers[name])
  })

  // G. Multipart -------------------------------------------------------------------------------------

  conformanceCase('bh-34.parts-out-of-order', 'Complete listing part 2 before part 1: 400 InvalidPartOrder', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'bh34/mp' }))
    const parts: CompletedPart[] = []
    for (const [i, body] of [randomData(5 * MiB), Buffer.from('tail')].entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'bh34/mp', UploadId, PartNumber: i + 1, Body: body }))
      parts.push({ PartNumber: i + 1, ETag: out.ETag })
    }
    await expectS3Error(
      s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'bh34/mp', UploadId, MultipartUpload: { Parts: [...parts].reverse() } })),
      'InvalidPartOrder',
      400
    )
  }, 120_000)

  conformanceCase('bh-36.min-part-size', 'two 1 MiB parts: EntityTooSmall; one 1-byte part: 200; 5 MiB + 1 byte: 200', async () => {
    const err = await sdkError(multipart('bh36/small', [randomData(MiB), randomData(MiB)]))
    expect({ code: err.name, status: err.status }).toEqual({ code: 'EntityTooSmall', status: 400 })
    await multipart('bh36/one', [Buffer.from('1')])
    await multipart('bh36/five-plus-one', [randomData(5 * MiB), Buffer.from('1')])
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh36/five-plus-one' }))).ContentLength).toBe(5 * MiB + 1)
  }, 120_000)

  conformanceCase('bh-38.failure-not-200', 'a CompleteMultipartUpload or CopyObject that fails answers a 4xx/5xx status with an XML Error', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'bh38/mp' }))
    const body = Buffer.from(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"00000000000000000000000000000000"</ETag></Part></CompleteMultipartUpload>`)
    const res = await signedRequest({ method: 'POST', bucket, key: 'bh38/mp', query: { uploadId: UploadId! }, body })
    // A part that was never uploaded: InvalidPart (400), as an error document rather than a 200.
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'InvalidPart' })
    const copy = await signedRequest({ method: 'PUT', bucket, key: 'bh38/copy', headers: { 'x-amz-copy-source': `/${bucket}/bh38/none` } })
    expect({ status: copy.status, code: errorCode(copy) }).toEqual({ status: 404, code: 'NoSuchKey' })
  })

  // H. DeleteObjects, CopyObject ------------------------------------------------------------------------

  conformanceCase('bh-39.delete-quiet', 'DeleteObjects Quiet with an existing and a missing key: no Deleted, no Errors; verbose lists both', async () => {
    await put(s3, bucket, 'bh39/a', 'a')
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'bh39/a' }, { Key: 'bh39/missing' }], Quiet: true } }))
    expect({ deleted: quiet.Deleted ?? [], errors: quiet.Errors ?? [] }).toEqual({ deleted: [], errors: [] })
    await put(s3, bucket, 'bh39/a', 'a')
    const verbose = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'bh39/a' }, { Key: 'bh39/missing' }] } }))
    expect(verbose.Deleted?.map((d) => d.Key).sort()).toEqual(['bh39/a', 'bh39/missing'])
  })

  conformanceCase('bh-41.copy-replace-and-self', 'CopyObject REPLACE sets Content-Type and metadata; self-copy needs REPLACE; the result has a quoted ETag and LastModified', async () => {
    await put(s3, bucket, 'bh41/obj', 'a,b', { ContentType: 'text/plain', Metadata: { old: '1' } })
    const out = await s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: 'bh41/obj', CopySource: `${bucket}/bh41/obj`, MetadataDirective: 'REPLACE', ContentType: 'text/csv', Metadata: { k: 'v' } })
    )
    expect(out.CopyObjectResult?.ETag).toMatch(/^"[^"]+"$/)
    expect(out.CopyObjectResult?.LastModified).toBeInstanceOf(Date)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh41/obj' }))
    expect({ type: head.ContentType, meta: head.Metadata }).toEqual({ type: 'text/csv', meta: { k: 'v' } })
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'bh41/obj', CopySource: `${bucket}/bh41/obj` })), 'InvalidRequest', 400)
  })
})
