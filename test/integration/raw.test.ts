/**
 * Hand-built signed requests (node:http, signed with @smithy/signature-v4; aws-chunked bodies framed
 * and chunk-signed here from the AWS documentation) for the request shapes stock clients do not send
 * by default: every aws-chunked variant, Transfer-Encoding: chunked without Content-Length, bad chunk
 * and trailer signatures, wrong checksums and payload hashes, truncated bodies, clients that vanish
 * mid-upload, clock skew, unknown keys, wrong secrets and anonymous calls. Every failed upload must
 * leave NO object behind: checked through the gateway, on disk (no temp file left) and, for the RGW
 * backend, directly on RGW.
 */
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, rgwForTests } from '../helpers/rgw.js'
import {
  CHECKSUMS,
  awsChunked,
  crc32Base64,
  crc64nvmeBase64,
  md5Base64,
  objectPath,
  rawRequest,
  sdkError,
  sha256Hex,
  signRequest,
  signedRequest,
  sleep,
  startTarget,
  xmlValue,
  type BackendKind,
  type ChecksumName,
  type RawResponse,
  type Target,
} from './support.js'

const rgw = await rgwForTests()
const BACKENDS: BackendKind[] = ['disk', 'rgw']
const ETAG = /^"[0-9a-f]{32}(-\d+)?"$/

type Mode = 'signed' | 'signed-trailer' | 'unsigned-trailer'
const SENTINEL: Record<Mode, string> = {
  signed: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'signed-trailer': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'unsigned-trailer': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
}

interface ChunkedCase {
  name: string
  mode: Mode
  contentEncoding?: string
  /** What Content-Encoding GET must show afterwards. */
  storedEncoding?: string
  trailer?: ChecksumName
  /** Send the checksum as a header instead (signed streaming). */
  headerChecksum?: ChecksumName
  /** Transfer-Encoding: chunked at the HTTP layer, no Content-Length. */
  transferChunked?: boolean
  chunkSize?: number
}

const CHUNKED_CASES: ChunkedCase[] = [
  { name: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD, Content-Encoding: aws-chunked', mode: 'signed', contentEncoding: 'aws-chunked' },
  { name: 'BH-04: STREAMING-AWS4-HMAC-SHA256-PAYLOAD without Content-Encoding', mode: 'signed' },
  { name: 'BH-04: STREAMING-AWS4-HMAC-SHA256-PAYLOAD with Content-Encoding: aws-chunked,gzip keeps gzip', mode: 'signed', contentEncoding: 'aws-chunked,gzip', storedEncoding: 'gzip' },
  { name: 'BH-08: STREAMING-AWS4-HMAC-SHA256-PAYLOAD with x-amz-checksum-sha256 as a header', mode: 'signed', contentEncoding: 'aws-chunked', headerChecksum: 'SHA256' },
  { name: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed crc32 trailer', mode: 'signed-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC32' },
  { name: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed crc64nvme trailer, no Content-Encoding', mode: 'signed-trailer', trailer: 'CRC64NVME' },
  { name: 'BH-01: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC32' },
  { name: 'BH-01: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc64nvme trailer', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC64NVME' },
  { name: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32c trailer', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC32C' },
  { name: 'BH-08: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a sha256 trailer (no checksum header)', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer: 'SHA256' },
  { name: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER with a sha1 trailer and no Content-Encoding', mode: 'unsigned-trailer', trailer: 'SHA1' },
  { name: 'BH-02: STREAMING-UNSIGNED-PAYLOAD-TRAILER over Transfer-Encoding: chunked, no Content-Length', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC64NVME', transferChunked: true },
  { name: 'BH-02: STREAMING-AWS4-HMAC-SHA256-PAYLOAD over Transfer-Encoding: chunked, no Content-Length', mode: 'signed', contentEncoding: 'aws-chunked', transferChunked: true },
  { name: 'aws-chunked with 8 KiB chunks (many chunk signatures)', mode: 'signed', contentEncoding: 'aws-chunked', chunkSize: 8192 },
]

/** Yields `data` in slices, as a client writing to a socket would. */
async function* pieces(data: Buffer, size = 16 * 1024): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size)
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`${kind} backend: raw signed requests`, () => {
    let t: Target
    let s3: S3Client
    let bucket: string

    beforeAll(async () => {
      t = await startTarget(kind, rgw)
      s3 = t.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
      bucket = t.bucketName('raw')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
    })

    /** Builds, signs and sends an aws-chunked PUT. */
    async function chunkedPut(
      key: string,
      data: Buffer,
      c: ChunkedCase,
      tamper: {
        chunk?: number
        trailerSignature?: boolean
        trailerValue?: string
        decodedLength?: number
        headers?: Record<string, string>
      } = {},
      agent?: Agent
    ): Promise<RawResponse> {
      const headers: Record<string, string> = {
        'x-amz-decoded-content-length': String(tamper.decodedLength ?? data.length),
        ...tamper.headers,
      }
      if (c.contentEncoding) headers['content-encoding'] = c.contentEncoding
      if (c.trailer) {
        headers['x-amz-trailer'] = `x-amz-checksum-${c.trailer.toLowerCase()}`
        headers['x-amz-sdk-checksum-algorithm'] = c.trailer
      }
      if (c.headerChecksum) headers[`x-amz-checksum-${c.headerChecksum.toLowerCase()}`] = CHECKSUMS[c.headerChecksum](data)
      // The framed length is known before signing: frame once with a dummy signer for the size.
      const trailers: [string, string][] | undefined = c.trailer
        ? [[`x-amz-checksum-${c.trailer.toLowerCase()}`, tamper.trailerValue ?? CHECKSUMS[c.trailer](data)]]
        : undefined
      const chunkSize = c.chunkSize ?? 64 * 1024
      const dummy = { key: Buffer.alloc(32), amzDate: '', scope: '', seed: '' }
      const framedLength = awsChunked(data, { chunkSize, trailers, signer: c.mode === 'unsigned-trailer' ? undefined : dummy }).length
      if (!c.transferChunked) headers['content-length'] = String(framedLength)
      const signed = await signRequest(t, { method: 'PUT', path: objectPath(bucket, key), headers, payloadHash: SENTINEL[c.mode] })
      const body = awsChunked(data, {
        chunkSize,
        trailers,
        signer: c.mode === 'unsigned-trailer' ? undefined : signed.chunkSigner,
        tamperChunk: tamper.chunk === undefined ? undefined : { index: tamper.chunk },
        tamperTrailer: tamper.trailerSignature || undefined,
      })
      expect(body.length).toBe(framedLength)
      const sendHeaders: Record<string, string> = { ...signed.headers }
      if (c.transferChunked) sendHeaders['transfer-encoding'] = 'chunked'
      return rawRequest(t, { method: 'PUT', path: objectPath(bucket, key), headers: sendHeaders, body: c.transferChunked ? pieces(body) : body, agent })
    }

    /** No object under `key`: not through the gateway, not in a listing, not upstream, no temp file left. */
    async function expectNothingStored(...keys: string[]): Promise<void> {
      await sleep(150) // anything racing to appear (an upstream still committing) gets the chance to
      for (const key of keys) await expectAbsent(key)
    }

    async function expectAbsent(key: string): Promise<void> {
      expect(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({ status: 404 })
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))
      expect(listed.Contents ?? []).toEqual([])
      if (t.upstream) {
        expect(await sdkError(t.upstream.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({ status: 404 })
        const direct = await t.upstream.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))
        expect(direct.Contents ?? []).toEqual([])
      } else {
        let left: string[] = []
        for (let i = 0; i < 20; i++) {
          left = await readdir(join(t.gw.dataDir, 'tmp'))
          if (left.length === 0) break
          await sleep(50)
        }
        expect(left).toEqual([])
      }
    }

    async function getBack(key: string) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      return { out, body: Buffer.from(await out.Body!.transformToByteArray()) }
    }

    describe('aws-chunked uploads store exactly the decoded bytes', () => {
      it.each(CHUNKED_CASES)('$name', async (c) => {
        const data = randomBytes(150_000 + Math.floor(Math.random() * 1000))
        const key = `chunked/${c.name.replace(/[^A-Za-z0-9]+/g, '-')}`
        const res = await chunkedPut(key, data, c)
        expect(res.status, res.body.toString()).toBe(200)
        expect(res.headers.etag).toMatch(ETAG)
        const echoed = c.trailer ?? c.headerChecksum
        if (echoed) expect(res.headers[`x-amz-checksum-${echoed.toLowerCase()}`]).toBe(CHECKSUMS[echoed](data))
        const { out, body } = await getBack(key)
        expect(out.ContentLength).toBe(data.length)
        expect(body.equals(data)).toBe(true)
        expect(out.ETag).toBe(res.headers.etag)
        expect(out.ContentEncoding).toBe(c.storedEncoding)
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))
        expect(head.ContentLength).toBe(data.length)
      })

      it('an empty object in aws-chunked framing (only the final chunk and a trailer)', async () => {
        const c: ChunkedCase = { name: 'empty', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC32' }
        const res = await chunkedPut('chunked/empty', Buffer.alloc(0), c)
        expect(res.status, res.body.toString()).toBe(200)
        expect(res.headers['x-amz-checksum-crc32']).toBe(crc32Base64(Buffer.alloc(0)))
        const { body } = await getBack('chunked/empty')
        expect(body.length).toBe(0)
      })
    })

    describe('bad uploads fail with the S3 error and store nothing', () => {
      const data = randomBytes(300_000)
      const signed: ChunkedCase = { name: 'signed', mode: 'signed', contentEncoding: 'aws-chunked' }
      const signedTrailer: ChunkedCase = { name: 'signed-trailer', mode: 'signed-trailer', contentEncoding: 'aws-chunked', trailer: 'CRC32' }
      const unsignedTrailer = (trailer: ChecksumName): ChunkedCase => ({ name: 'u', mode: 'unsigned-trailer', contentEncoding: 'aws-chunked', trailer })

      const cases: [string, () => Promise<RawResponse>, number, string][] = [
        ['a bad signature on the second chunk', () => chunkedPut('bad/chunk-sig', data, signed, { chunk: 1 }), 403, 'SignatureDoesNotMatch'],
        ['a bad signature on the final (empty) chunk', () => chunkedPut('bad/final-sig', data, signed, { chunk: 5 }), 403, 'SignatureDoesNotMatch'],
        ['a bad trailer signature', () => chunkedPut('bad/trailer-sig', data, signedTrailer, { trailerSignature: true }), 403, 'SignatureDoesNotMatch'],
        ['BH-01: a wrong crc32 trailer', () => chunkedPut('bad/crc32-trailer', data, unsignedTrailer('CRC32'), { trailerValue: crc32Base64(randomBytes(8)) }), 400, 'BadDigest'],
        ['BH-01: a wrong crc64nvme trailer', () => chunkedPut('bad/crc64-trailer', data, unsignedTrailer('CRC64NVME'), { trailerValue: crc64nvmeBase64(randomBytes(8)) }), 400, 'BadDigest'],
        ['a wrong signed crc32 trailer', () => chunkedPut('bad/signed-crc32', data, signedTrailer, { trailerValue: crc32Base64(randomBytes(8)) }), 400, 'BadDigest'],
        [
          'a wrong x-amz-checksum-crc32 header on a streaming upload',
          () => chunkedPut('bad/header-crc32', data, signed, { headers: { 'x-amz-checksum-crc32': crc32Base64(randomBytes(8)) } }),
          400,
          'BadDigest',
        ],
        ['x-amz-decoded-content-length larger than the chunks carry', () => chunkedPut('bad/short', data, signed, { decodedLength: data.length + 10 }), 400, 'IncompleteBody'],
        ['x-amz-decoded-content-length smaller than the chunks carry', () => chunkedPut('bad/long', data, signed, { decodedLength: data.length - 10 }), 400, 'IncompleteBody'],
        [
          'a wrong x-amz-content-sha256',
          () => signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'bad/sha256'), body: data, payloadHash: sha256Hex(randomBytes(8)) }),
          400,
          'XAmzContentSHA256Mismatch',
        ],
        [
          'a wrong x-amz-checksum-crc32 header with a signed payload',
          () =>
            signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'bad/plain-crc32'), body: data, headers: { 'x-amz-checksum-crc32': crc32Base64(randomBytes(8)) } }),
          400,
          'BadDigest',
        ],
        [
          'BH-12: an empty Content-MD5',
          () => signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'bad/md5-empty'), body: data, headers: { 'content-md5': '' } }),
          400,
          'InvalidDigest',
        ],
        [
          'BH-12: a Content-MD5 of other bytes with UNSIGNED-PAYLOAD',
          () =>
            signedRequest(t, {
              method: 'PUT',
              path: objectPath(bucket, 'bad/md5-other'),
              body: data,
              payloadHash: 'UNSIGNED-PAYLOAD',
              headers: { 'content-md5': md5Base64('other') },
            }),
          400,
          'BadDigest',
        ],
      ]

      it.each(cases)('%s', async (_label, send, status, code) => {
        const res = await send()
        expect(res.status, res.body.toString()).toBe(status)
        expect(xmlValue(res.body.toString(), 'Code')).toBe(code)
        expect(xmlValue(res.body.toString(), 'RequestId')).toBe(res.headers['x-amz-request-id'])
      })

      it('none of those left an object behind', async () => {
        const keys = ['chunk-sig', 'final-sig', 'trailer-sig', 'crc32-trailer', 'crc64-trailer', 'signed-crc32', 'header-crc32', 'short', 'long', 'sha256', 'plain-crc32', 'md5-empty', 'md5-other']
        await expectNothingStored(...keys.map((key) => `bad/${key}`))
      })

      it('a valid UNSIGNED-PAYLOAD and a valid signed payload do store (control)', async () => {
        const a = await signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'good/unsigned'), body: data, payloadHash: 'UNSIGNED-PAYLOAD' })
        expect(a.status).toBe(200)
        const b = await signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'good/signed'), body: data, headers: { 'content-md5': md5Base64(data) } })
        expect(b.status).toBe(200)
        expect((await getBack('good/unsigned')).body.equals(data)).toBe(true)
        expect((await getBack('good/signed')).body.equals(data)).toBe(true)
      })

      it('a client that disconnects mid-upload (Content-Length body) leaves no object', async () => {
        await disconnectMidUpload('gone/plain', false, (wire) => wire.length / 2)
        await expectNothingStored('gone/plain')
      })

      it('a client that disconnects mid-upload (aws-chunked, Transfer-Encoding: chunked) leaves no object', async () => {
        await disconnectMidUpload('gone/chunked', true, (wire) => wire.length / 2)
        await expectNothingStored('gone/chunked')
      })

      it('a client that disconnects one byte short of Content-Length leaves no object', async () => {
        await disconnectMidUpload('gone/last-byte', false, (wire) => wire.length - 1)
        await expectNothingStored('gone/last-byte')
      })

      it('a client that disconnects after every data chunk but before the final chunk and trailer leaves no object', async () => {
        await disconnectMidUpload('gone/no-final-chunk', true, (wire) => wire.lastIndexOf('\r\n0\r\nx-amz-checksum-crc32:') + 2)
        await expectNothingStored('gone/no-final-chunk')
      })

      /** Sends part of a 4 MiB body, waits until the gateway is consuming it, then destroys the socket. */
      async function disconnectMidUpload(key: string, chunked: boolean, cut: (wire: Buffer) => number): Promise<void> {
        const total = randomBytes(4 * 1024 * 1024)
        const headers: Record<string, string> = {}
        let wire: Buffer
        let payloadHash: string
        if (chunked) {
          headers['content-encoding'] = 'aws-chunked'
          headers['x-amz-decoded-content-length'] = String(total.length)
          headers['x-amz-trailer'] = 'x-amz-checksum-crc32'
          payloadHash = SENTINEL['unsigned-trailer']
          wire = awsChunked(total, { chunkSize: 64 * 1024, trailers: [['x-amz-checksum-crc32', crc32Base64(total)]] })
        } else {
          headers['content-length'] = String(total.length)
          payloadHash = 'UNSIGNED-PAYLOAD'
          wire = total
        }
        const sendBytes = cut(wire)
        expect(sendBytes).toBeGreaterThan(0)
        expect(sendBytes).toBeLessThan(wire.length)
        const signed = await signRequest(t, { method: 'PUT', path: objectPath(bucket, key), headers, payloadHash })
        const sendHeaders: Record<string, string> = { ...signed.headers }
        if (chunked) sendHeaders['transfer-encoding'] = 'chunked'
        let answered: number | undefined
        await new Promise<void>((resolve) => {
          const req = httpRequest({ host: t.host, port: t.port, method: 'PUT', path: objectPath(bucket, key), headers: sendHeaders, agent: false })
          req.on('error', () => resolve())
          req.on('response', (res) => {
            answered = res.statusCode
            res.resume()
          })
          req.write(wire.subarray(0, sendBytes), () => {
            setTimeout(() => {
              req.destroy()
              resolve()
            }, 300)
          })
        })
        // An incomplete body can only ever be answered with an error.
        if (answered !== undefined) expect(answered).toBeGreaterThanOrEqual(400)
        await sleep(300)
      }
    })

    describe('authentication failures', () => {
      it.each([
        ['16 minutes behind', -16],
        ['16 minutes ahead', 16],
      ])('BH-18: a request signed %s is RequestTimeTooSkewed with RequestTime, ServerTime and MaxAllowedSkewMilliseconds', async (_label, minutes) => {
        const date = new Date(Date.now() + minutes * 60_000)
        const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket), query: { 'list-type': '2' }, date })
        expect(res.status).toBe(403)
        const xml = res.body.toString()
        expect(xmlValue(xml, 'Code')).toBe('RequestTimeTooSkewed')
        const requestTime = xmlValue(xml, 'RequestTime')!
        expect(Math.abs(Date.parse(requestTime.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')) - date.getTime())).toBeLessThan(2000)
        expect(Math.abs(Date.parse(xmlValue(xml, 'ServerTime')!) - Date.now())).toBeLessThan(10_000)
        expect(xmlValue(xml, 'MaxAllowedSkewMilliseconds')).toBe('900000')
        expect(xmlValue(xml, 'RequestId')).toBe(res.headers['x-amz-request-id'])
        expect(res.headers.date).toBeTruthy()
      })

      it('a request signed 14 minutes off is inside the window', async () => {
        for (const minutes of [-14, 14]) {
          const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket), query: { 'list-type': '2' }, date: new Date(Date.now() + minutes * 60_000) })
          expect(res.status, String(minutes)).toBe(200)
        }
      })

      it('an unknown access key is InvalidAccessKeyId', async () => {
        const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket), accessKeyId: 'AKUNKNOWN00000000000' })
        expect(res.status).toBe(403)
        expect(xmlValue(res.body.toString(), 'Code')).toBe('InvalidAccessKeyId')
      })

      it('a wrong secret is SignatureDoesNotMatch, and a PUT signed with it stores nothing', async () => {
        const get = await signedRequest(t, { method: 'GET', path: objectPath(bucket), secretAccessKey: 'wrong-secret' })
        expect(get.status).toBe(403)
        expect(xmlValue(get.body.toString(), 'Code')).toBe('SignatureDoesNotMatch')
        const put = await signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'auth/wrong-secret'), body: Buffer.from('x'), secretAccessKey: 'wrong-secret' })
        expect(put.status).toBe(403)
        await expectNothingStored('auth/wrong-secret')
      })

      it('anonymous requests are AccessDenied (list, get, put) and store nothing', async () => {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'auth/exists', Body: 'secret data' }))
        const requests: [string, string, string | undefined, Buffer | undefined][] = [
          ['GET', objectPath(bucket), 'list-type=2', undefined],
          ['GET', objectPath(bucket, 'auth/exists'), undefined, undefined],
          ['PUT', objectPath(bucket, 'auth/anonymous'), undefined, Buffer.from('anonymous')],
          ['GET', '/', undefined, undefined],
        ]
        for (const [method, path, query, body] of requests) {
          const res = await rawRequest(t, { method, path, query, body })
          expect(res.status, `${method} ${path}`).toBe(403)
          expect(xmlValue(res.body.toString(), 'Code')).toBe('AccessDenied')
          expect(res.body.includes('secret data')).toBe(false)
        }
        await expectNothingStored('auth/anonymous')
      })

      it('Signature Version 2 (header or presigned, as aws-cli v1 presigns) is InvalidRequest naming SigV4', async () => {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'auth/v2', Body: 'secret data' }))
        const expires = Math.floor(Date.now() / 1000) + 600
        const attempts = [
          rawRequest(t, { method: 'GET', path: objectPath(bucket, 'auth/v2'), headers: { authorization: `AWS ${t.accessKeyId}:c2lnbmF0dXJl` } }),
          rawRequest(t, {
            method: 'GET',
            path: objectPath(bucket, 'auth/v2'),
            query: `AWSAccessKeyId=${t.accessKeyId}&Signature=c2lnbmF0dXJl&Expires=${expires}`,
          }),
        ]
        for (const res of await Promise.all(attempts)) {
          expect(res.status).toBe(400)
          expect(xmlValue(res.body.toString(), 'Code')).toBe('InvalidRequest')
          expect(xmlValue(res.body.toString(), 'Message')).toContain('AWS4-HMAC-SHA256')
          expect(res.body.includes('secret data')).toBe(false)
        }
      })

      it('an x-amz-* header added after signing is refused (AccessDenied) and stores nothing', async () => {
        const body = Buffer.from('signed body')
        const signed = await signRequest(t, { method: 'PUT', path: objectPath(bucket, 'auth/added'), body })
        const res = await rawRequest(t, {
          method: 'PUT',
          path: objectPath(bucket, 'auth/added'),
          headers: { ...signed.headers, 'x-amz-meta-injected': 'yes' },
          body,
        })
        expect(res.status).toBe(403)
        expect(xmlValue(res.body.toString(), 'Code')).toBe('AccessDenied')
        await expectNothingStored('auth/added')
      })
    })

    describe('BH-14: how a raw "+" in the path reads', () => {
      it('"+" signed as %20 (s3cmd, aws4fetch) names a space; "+" signed as %2B names a plus', async () => {
        const space = await signRequest(t, { method: 'PUT', path: objectPath(bucket, 'plus/a b.txt'), body: Buffer.from('space') })
        const a = await rawRequest(t, { method: 'PUT', path: `/${bucket}/plus/a+b.txt`, headers: space.headers, body: Buffer.from('space') })
        expect(a.status, a.body.toString()).toBe(200)
        const plus = await signRequest(t, { method: 'PUT', path: objectPath(bucket, 'plus/c+d.txt'), body: Buffer.from('plus') })
        const b = await rawRequest(t, { method: 'PUT', path: `/${bucket}/plus/c+d.txt`, headers: plus.headers, body: Buffer.from('plus') })
        expect(b.status, b.body.toString()).toBe(200)
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'plus/' }))
        expect(listed.Contents?.map((o) => o.Key)).toEqual(['plus/a b.txt', 'plus/c+d.txt'])
        expect((await getBack('plus/a b.txt')).body.toString()).toBe('space')
        expect((await getBack('plus/c+d.txt')).body.toString()).toBe('plus')
      })
    })

    describe('BH-13: DeleteObjects needs an integrity header, and any one of them will do', () => {
      const xml = (keys: string[], quiet = false) =>
        Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${quiet ? '<Quiet>true</Quiet>' : ''}` +
            keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('') +
            '</Delete>'
        )

      async function deleteWith(keys: string[], headers: (body: Buffer) => Record<string, string>): Promise<RawResponse> {
        const body = xml(keys)
        return signedRequest(t, { method: 'POST', path: objectPath(bucket), query: { delete: '' }, body, headers: headers(body) })
      }

      it.each([
        ['Content-MD5', (b: Buffer) => ({ 'content-md5': md5Base64(b) })],
        ['x-amz-checksum-crc32 only', (b: Buffer) => ({ 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': crc32Base64(b) })],
        ['x-amz-checksum-crc64nvme only', (b: Buffer) => ({ 'x-amz-sdk-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-crc64nvme': crc64nvmeBase64(b) })],
      ])('with %s: 200 and the objects are gone', async (label, headers) => {
        const key = `bulk/${label.replace(/\W+/g, '-')}`
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }))
        const res = await deleteWith([key], headers)
        expect(res.status, res.body.toString()).toBe(200)
        expect(res.body.toString()).toContain(`<Deleted><Key>${key}</Key></Deleted>`)
        await expectNothingStored(key)
      })

      it('with neither: 400, and nothing is deleted', async () => {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bulk/kept', Body: 'x' }))
        const res = await deleteWith(['bulk/kept'], () => ({}))
        expect(res.status).toBe(400)
        expect(xmlValue(res.body.toString(), 'Code')).toBeTruthy()
        expect((await getBack('bulk/kept')).body.toString()).toBe('x')
      })

      it('with a Content-MD5 of other bytes: BadDigest, and nothing is deleted', async () => {
        const res = await deleteWith(['bulk/kept'], () => ({ 'content-md5': md5Base64('other') }))
        expect(res.status).toBe(400)
        expect(xmlValue(res.body.toString(), 'Code')).toBe('BadDigest')
        expect((await getBack('bulk/kept')).body.toString()).toBe('x')
      })

      it('malformed XML is MalformedXML', async () => {
        const body = Buffer.from('<Delete><Object><Key>x</Key></Object>')
        const res = await signedRequest(t, { method: 'POST', path: objectPath(bucket), query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } })
        expect(res.status).toBe(400)
        expect(xmlValue(res.body.toString(), 'Code')).toBe('MalformedXML')
      })

      it('BH-39: Quiet mode answers an empty DeleteResult', async () => {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bulk/q', Body: 'x' }))
        const body = xml(['bulk/q', 'bulk/never-existed'], true)
        const res = await signedRequest(t, { method: 'POST', path: objectPath(bucket), query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } })
        expect(res.status).toBe(200)
        expect(res.body.toString()).not.toContain('<Deleted>')
        expect(res.body.toString()).not.toContain('<Error>')
        await expectNothingStored('bulk/q')
      })
    })

    describe('malformed requests get S3 error XML', () => {
      it.each([
        ['CreateBucket with a body that is not XML', 'PUT', (): string => objectPath(t.bucketName('badxml')), {}, Buffer.from('<CreateBucketConfiguration><Location'), 400, 'MalformedXML'],
        ['CreateBucket with XML of the wrong root element', 'PUT', (): string => objectPath(t.bucketName('badxml')), {}, Buffer.from('<Nope/>'), 400, 'MalformedXML'],
        ['CreateBucket with a body over 64 KiB', 'PUT', (): string => objectPath(t.bucketName('bigxml')), {}, Buffer.from(`<CreateBucketConfiguration>${' '.repeat(65 * 1024)}</CreateBucketConfiguration>`), 400, 'MalformedXML'],
        ['ListObjectsV2 with max-keys=abc', 'GET', (): string => objectPath(bucket), { 'list-type': '2', 'max-keys': 'abc' }, undefined, 400, 'InvalidArgument'],
        ['ListObjectsV2 with encoding-type=base64', 'GET', (): string => objectPath(bucket), { 'list-type': '2', 'encoding-type': 'base64' }, undefined, 400, 'InvalidArgument'],
        ['a path that is not valid percent-encoding', 'GET', (): string => `/${bucket}/bad%zzkey`, {}, undefined, 400, 'InvalidURI'],
        ['an object PUT into an invalid bucket name', 'PUT', (): string => '/Invalid_Bucket/key', {}, Buffer.from('x'), 400, 'InvalidBucketName'],
      ] as const)('%s', async (_label, method, path, query, body, status, code) => {
        const res = await signedRequest(t, { method, path: path(), query: { ...query }, body })
        expect(res.status, res.body.toString()).toBe(status)
        expect(res.headers['content-type']).toBe('application/xml')
        expect(xmlValue(res.body.toString(), 'Code')).toBe(code)
      })

      it('DeleteObjects with more than 1000 keys is MalformedXML', async () => {
        const body = Buffer.from(`<Delete>${Array.from({ length: 1001 }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join('')}</Delete>`)
        const res = await signedRequest(t, { method: 'POST', path: objectPath(bucket), query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } })
        expect(res.status).toBe(400)
        expect(xmlValue(res.body.toString(), 'Code')).toBe('MalformedXML')
      })

      it('a continuation token that was never issued is InvalidArgument, as AWS (RGW itself would read it as a position)', async () => {
        for (const token of ['bm90IGEgdG9rZW4=', 'bm90IGEgdG9rZW4', 'not-a-token']) {
          const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket), query: { 'list-type': '2', 'continuation-token': token } })
          expect(res.status).toBe(400)
          expect(xmlValue(res.body.toString(), 'Code')).toBe('InvalidArgument')
        }
      })

      it('several ranges in one header are ignored: 200 with the whole object', async () => {
        const data = randomBytes(1000)
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'multirange', Body: data }))
        const res = await signedRequest(t, { method: 'GET', path: objectPath(bucket, 'multirange'), headers: { range: 'bytes=0-9,20-29' } })
        expect(res.status).toBe(200)
        expect(res.body.equals(data)).toBe(true)
      })

      it('successful answers carry x-amz-request-id too', async () => {
        const res = await signedRequest(t, { method: 'GET', path: '/' })
        expect(res.status).toBe(200)
        expect(res.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/)
        expect(res.headers['content-type']).toBe('application/xml')
      })
    })

    describe('concurrency and connection reuse', () => {
      it('parallel PUTs of different bodies to one key: GET returns exactly one of them, with its ETag', async () => {
        const bodies = Array.from({ length: 6 }, () => randomBytes(300_000))
        const puts = await Promise.all(bodies.map((Body) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body }))))
        const { out, body } = await getBack('race')
        const winner = bodies.findIndex((b) => b.equals(body))
        expect(winner).toBeGreaterThanOrEqual(0)
        expect(out.ETag).toBe(puts[winner]!.ETag)
      })

      it('BH-32: parallel create-only PUTs (If-None-Match: *): exactly one wins, the object is the winner\'s', async () => {
        const bodies = Array.from({ length: 5 }, () => randomBytes(200_000))
        const results = await Promise.allSettled(
          bodies.map((Body) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'lock', Body, IfNoneMatch: '*' })))
        )
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
        expect(won).toHaveLength(1)
        for (const r of results) {
          if (r.status === 'rejected') expect([409, 412]).toContain((r.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode)
        }
        expect((await getBack('lock')).body.equals(bodies[won[0]!]!)).toBe(true)
      })

      it('GETs racing an overwrite see the old or the new object whole, never a mix', async () => {
        const old = randomBytes(500_000)
        const next = randomBytes(500_000)
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'overwrite', Body: old }))
        const reads = Array.from({ length: 6 }, (_, i) =>
          sleep(i * 15).then(() => signedRequest(t, { method: 'GET', path: objectPath(bucket, 'overwrite'), ...(i % 2 ? { headers: { range: 'bytes=-300000' } } : {}) }))
        )
        const write = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'overwrite', Body: next }))
        const [results] = await Promise.all([Promise.all(reads), write])
        for (const [i, res] of results.entries()) {
          if (res.status !== 200 && res.status !== 206) {
            expect(res.status, `read ${i}`).toBeGreaterThanOrEqual(400)
            continue
          }
          const whole = res.status === 200
          const candidates = whole ? [old, next] : [old.subarray(200_000), next.subarray(200_000)]
          const complete = res.complete && res.body.length === Number(res.headers['content-length'])
          if (complete) expect(candidates.some((c) => c.equals(res.body)), `read ${i}`).toBe(true)
          else expect(candidates.some((c) => c.subarray(0, res.body.length).equals(res.body)), `read ${i}`).toBe(true)
        }
      })

      it('a keep-alive connection stays usable after an early error answered before the body was read', async () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 })
        const client = t.client({ requestHandler: { httpAgent: agent }, requestChecksumCalculation: 'WHEN_REQUIRED' })
        try {
          const big = randomBytes(3 * 1024 * 1024)
          for (let i = 0; i < 3; i++) {
            const err = await sdkError(client.send(new PutObjectCommand({ Bucket: t.bucketName('nope'), Key: 'k', Body: big })))
            expect(err.status).toBe(404)
            const tooLong = await sdkError(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k'.repeat(1025), Body: big })))
            expect(tooLong.name).toBe('KeyTooLongError')
            const ok = await client.send(new PutObjectCommand({ Bucket: bucket, Key: `reuse/${i}`, Body: big }))
            expect(ok.$metadata.httpStatusCode).toBe(200)
          }
          expect((await getBack('reuse/2')).body.length).toBe(3 * 1024 * 1024)

          // A body that fails verification early (second chunk of 3 MiB): the error reaches the
          // client, and the connection still serves the next request.
          const signedCase: ChunkedCase = { name: 'reuse', mode: 'signed', contentEncoding: 'aws-chunked' }
          for (let i = 0; i < 2; i++) {
            const bad = await chunkedPut('reuse/bad-sig', big, signedCase, { chunk: 1 }, agent)
            expect(bad.status).toBe(403)
            expect(xmlValue(bad.body.toString(), 'Code')).toBe('SignatureDoesNotMatch')
            const list = await signedRequest(t, { method: 'GET', path: objectPath(bucket), query: { 'list-type': '2', prefix: 'reuse/' }, agent })
            expect(list.status).toBe(200)
          }
          await expectNothingStored('reuse/bad-sig')
        } finally {
          client.destroy()
          agent.destroy()
        }
      })
    })

    it('PutObject with a malformed or missing Content-Length on a plain body is refused', async () => {
      const signed = await signRequest(t, { method: 'PUT', path: objectPath(bucket, 'nolength'), payloadHash: 'UNSIGNED-PAYLOAD' })
      const res = await rawRequest(t, {
        method: 'PUT',
        path: objectPath(bucket, 'nolength'),
        headers: { ...signed.headers, 'transfer-encoding': 'chunked' },
        body: pieces(Buffer.from('some bytes without a declared length')),
      })
      expect(res.status).toBe(411)
      expect(xmlValue(res.body.toString(), 'Code')).toBe('MissingContentLength')
      await expectNothingStored('nolength')
    })

    it('GET of an object through a client that hangs up early does not disturb the gateway', async () => {
      const data = randomBytes(2 * 1024 * 1024)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'hangup', Body: data }))
      const signed = await signRequest(t, { method: 'GET', path: objectPath(bucket, 'hangup') })
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: t.host, port: t.port, method: 'GET', path: objectPath(bucket, 'hangup'), headers: signed.headers, agent: false })
        req.on('response', (res) => {
          res.once('data', () => {
            req.destroy()
            resolve()
          })
        })
        req.on('error', () => resolve())
        req.end()
      })
      const { body } = await getBack('hangup')
      expect(body.equals(data)).toBe(true)
      expect((await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hangup-missing' })))).status).toBe(404)
    })
  })
}

describe('an S3 upstream that is down or refuses the gateway', () => {
  /** Everything a client sees must be free of the upstream's address, credentials and stack traces. */
  function expectNothingLeaked(res: RawResponse, upstream: { endpoint: string; accessKeyId: string; secretAccessKey: string }): void {
    const visible = JSON.stringify(res.headers) + res.body.toString()
    for (const secret of [upstream.endpoint, new URL(upstream.endpoint).host, upstream.accessKeyId, upstream.secretAccessKey]) {
      expect(visible.includes(secret), `leaked ${secret}`).toBe(false)
    }
    expect(visible).not.toMatch(/\n\s+at |ECONNREFUSED|node_modules/)
  }

  it('an upstream that is down: 503 ServiceUnavailable XML, promptly, naming nothing of it', async () => {
    const port = await freePort()
    const upstream = {
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      accessKeyId: 'UPSTREAMKEY' + randomBytes(4).toString('hex').toUpperCase(),
      secretAccessKey: 'upstream-secret-' + randomBytes(8).toString('hex'),
      release: async () => {},
    }
    const t = await startTarget('rgw', upstream)
    try {
      const started = Date.now()
      for (const req of [
        { method: 'GET', path: '/' },
        { method: 'GET', path: objectPath('some-bucket', 'k') },
        { method: 'PUT', path: objectPath('some-bucket', 'k'), body: randomBytes(100_000) },
      ]) {
        const res = await signedRequest(t, req)
        expect(res.status, `${req.method} ${req.path}`).toBe(503)
        expect(xmlValue(res.body.toString(), 'Code')).toBe('ServiceUnavailable')
        expectNothingLeaked(res, upstream)
      }
      expect(Date.now() - started).toBeLessThan(20_000)
      expect(t.gw.output().includes(upstream.secretAccessKey)).toBe(false)
    } finally {
      await t.stop()
    }
  })

  it.skipIf(!rgw)('an upstream that refuses the gateway\'s credentials: an error that never blames the client\'s signature', async () => {
    const upstream = { ...rgw!, secretAccessKey: 'wrong-' + randomBytes(8).toString('hex') }
    const t = await startTarget('rgw', upstream)
    try {
      for (const req of [
        { method: 'GET', path: '/' },
        { method: 'PUT', path: objectPath('s3v-refused', 'k'), body: Buffer.from('x') },
      ]) {
        const res = await signedRequest(t, req)
        expect(res.status).toBeGreaterThanOrEqual(400)
        const code = xmlValue(res.body.toString(), 'Code')
        expect(code).toBeTruthy()
        expect(['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'RequestTimeTooSkewed']).not.toContain(code)
        expectNothingLeaked(res, upstream)
        expect(res.body.toString()).not.toContain(rgw!.secretAccessKey)
      }
    } finally {
      await t.stop()
    }
  })
})
