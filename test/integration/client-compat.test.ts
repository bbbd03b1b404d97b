/**
 * Client-compatibility cases BH-09, BH-11, BH-26, BH-27 and BH-41 of ../shared/cases/client-compat.md,
 * run with real clients against the running gateway (a real process) on both backends — the disk
 * store and a real Ceph RGW upstream: aws-cli v2 (Debian's /usr/bin/aws), rclone (Debian's
 * /usr/bin/rclone), @aws-sdk/client-s3 / lib-storage at their current defaults, and hand-signed raw
 * requests where the exact header set matters. Test names start with the case id.
 *
 * BH-26/BH-27 are our documented deviation (README, "ETags"): encrypted objects show opaque ETags
 * ending in `-N`, never an MD5 of the content, so the tests check that the suffix is always there
 * (MD5-checking clients then skip the check) and that rclone still copies and checks cleanly.
 * Under CI=true a missing aws-cli or rclone FAILS the file (requireTool) instead of skipping.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { Upload } from '@aws-sdk/lib-storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests } from '../helpers/rgw.js'
import {
  MiB,
  awsClientEnv,
  crc32Base64,
  md5Hex,
  objectPath,
  probe,
  requireTool,
  sdkError,
  signedRequest,
  startTarget,
  xmlValue,
  xmlValues,
  type BackendKind,
  type Target,
} from './support.js'

const rgw = await rgwForTests()
const BACKENDS: BackendKind[] = ['disk', 'rgw']

// Full paths: PATH here may put a pyenv aws-cli v1 shim or another rclone first.
const AWS_CLI = '/usr/bin/aws'
const awsVersion = probe(AWS_CLI, ['--version'])?.trim()
const haveAws = requireTool('aws-cli v2 at /usr/bin/aws', awsVersion?.startsWith('aws-cli/2.') ?? false, 'apt-get install -y awscli')
const RCLONE = '/usr/bin/rclone'
const rcloneVersion = probe(RCLONE, ['version'])?.split('\n')[0]?.trim()
const haveRclone = requireTool('rclone at /usr/bin/rclone', rcloneVersion?.startsWith('rclone v') ?? false, 'apt-get install -y rclone')

/** Every encrypted object's ETag: quoted hex with a part-count suffix, so no client takes it for an MD5. */
const OPAQUE_ETAG = /^"[0-9a-f]{32}-\d+"$/

async function bytesOf(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Buffer> {
  return Buffer.from(await body!.transformToByteArray())
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, cwd, timeout: 60_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

/** Every x-amz-checksum-* header of a response (the ones that would make a client validate the body). */
function checksumHeaders(headers: Record<string, unknown>): string[] {
  return Object.keys(headers).filter((name) => name.toLowerCase().startsWith('x-amz-checksum-'))
}

/** The checksum fields of a GetObject/HeadObject output that carry a value. */
function checksumFields(out: Partial<GetObjectCommandOutput>): string[] {
  const fields = ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256', 'ChecksumType'] as const
  return fields.filter((f) => out[f] !== undefined)
}

async function crc64Base64(data: Uint8Array): Promise<string> {
  const hash = new Crc64Nvme()
  hash.update(data)
  return Buffer.from(await hash.digest()).toString('base64')
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`client compatibility, ${kind} backend`, () => {
    let t: Target
    /** At the SDK's current defaults: CRC32 on uploads, checksum mode on every GetObject. */
    let s3: S3Client
    let bucket: string
    let root: string

    beforeAll(async () => {
      t = await startTarget(kind, rgw)
      s3 = t.client()
      bucket = t.bucketName('compat')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      root = await mkdtemp(join(tmpdir(), 's3veil-compat-'))
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
      if (root) await rm(root, { recursive: true, force: true })
    })

    async function workdir(label: string): Promise<string> {
      const dir = join(root, label)
      await mkdir(dir, { recursive: true })
      return dir
    }

    const aws = (dir: string, ...args: string[]) => run(AWS_CLI, ['--endpoint-url', t.url, ...args], awsClientEnv(t, dir), dir)

    // ---------------------------------------------------------------------------------------------
    // BH-09

    it.skipIf(!haveAws)(`BH-09 aws-cli v2 (${awsVersion?.split(' ')[0]}) s3 cp of 20 MiB up and down at default settings, byte for byte`, async () => {
      const dir = await workdir('bh09-cli')
      const data = randomBytes(20 * MiB)
      await writeFile(join(dir, 'up.bin'), data)
      // No config file: aws-cli's own defaults (8 MiB threshold and parts: Create, 3 parts, Complete).
      await aws(dir, 's3', 'cp', '--only-show-errors', join(dir, 'up.bin'), `s3://${bucket}/bh09/20mib.bin`)
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh09/20mib.bin' }))
      expect(head.ContentLength).toBe(data.length)
      expect(head.ETag).toMatch(OPAQUE_ETAG)
      await aws(dir, 's3', 'cp', '--only-show-errors', `s3://${bucket}/bh09/20mib.bin`, join(dir, 'down.bin'))
      expect((await readFile(join(dir, 'down.bin'))).equals(data)).toBe(true)
    })

    describe('BH-09 CompleteMultipartUpload after a Create that asked for a checksum algorithm', () => {
      const first = randomBytes(5 * MiB)
      const last = randomBytes(1024)
      const whole = Buffer.concat([first, last])

      /** Create with `algorithm` (and `type`), upload two parts with that algorithm; the SDK's part list. */
      async function startUpload(key: string, algorithm: ChecksumAlgorithm, type?: 'COMPOSITE' | 'FULL_OBJECT') {
        const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: algorithm, ChecksumType: type }))
        const uploadId = created.UploadId!
        const parts: CompletedPart[] = []
        for (const [i, body] of [first, last].entries()) {
          const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: algorithm }))
          // The gateway verified the part checksum the SDK computed and echoes it.
          if (algorithm === 'CRC32') expect(out.ChecksumCRC32).toBe(crc32Base64(body))
          if (algorithm === 'CRC64NVME') expect(out.ChecksumCRC64NVME).toBe(await crc64Base64(body))
          parts.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC64NVME: out.ChecksumCRC64NVME })
        }
        return { uploadId, parts }
      }

      async function expectStored(key: string, etag: string | undefined): Promise<void> {
        expect(etag).toMatch(/^"[0-9a-f]{32}-2"$/)
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        expect(got.ETag).toBe(etag)
        expect((await bytesOf(got.Body)).equals(whole)).toBe(true)
      }

      /** A hand-signed Complete, so the exact header set (with or without x-amz-checksum-type) is ours. */
      async function rawComplete(key: string, uploadId: string, parts: CompletedPart[], headers: Record<string, string>) {
        const xml =
          '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
          parts
            .map(
              (p) =>
                `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag>` +
                (p.ChecksumCRC32 ? `<ChecksumCRC32>${p.ChecksumCRC32}</ChecksumCRC32>` : '') +
                (p.ChecksumCRC64NVME ? `<ChecksumCRC64NVME>${p.ChecksumCRC64NVME}</ChecksumCRC64NVME>` : '') +
                '</Part>'
            )
            .join('') +
          '</CompleteMultipartUpload>'
        return signedRequest(t, { method: 'POST', path: objectPath(bucket, key), query: { uploadId }, headers, body: Buffer.from(xml) })
      }

      it('BH-09 CRC64NVME (FULL_OBJECT) upload: SDK Complete without and with x-amz-checksum-type both succeed', async () => {
        const a = await startUpload('bh09/crc64-no-type', 'CRC64NVME')
        const doneA = await s3.send(
          new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'bh09/crc64-no-type', UploadId: a.uploadId, MultipartUpload: { Parts: a.parts } })
        )
        await expectStored('bh09/crc64-no-type', doneA.ETag)

        const b = await startUpload('bh09/crc64-full', 'CRC64NVME', 'FULL_OBJECT')
        const doneB = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: 'bh09/crc64-full',
            UploadId: b.uploadId,
            ChecksumType: 'FULL_OBJECT',
            MultipartUpload: { Parts: b.parts },
          })
        )
        await expectStored('bh09/crc64-full', doneB.ETag)
      })

      it('BH-09 CRC32 upload: raw Complete without x-amz-checksum-type, with COMPOSITE, and FULL_OBJECT fixed at Create', async () => {
        const cases: [string, 'COMPOSITE' | 'FULL_OBJECT' | undefined, Record<string, string>][] = [
          ['bh09/crc32-no-type', undefined, {}],
          ['bh09/crc32-composite', undefined, { 'x-amz-checksum-type': 'COMPOSITE' }],
          // The type was fixed at Create; Complete need not repeat it (versitygw#1105).
          ['bh09/crc32-full-no-type', 'FULL_OBJECT', {}],
        ]
        for (const [key, createType, headers] of cases) {
          const u = await startUpload(key, 'CRC32', createType)
          const res = await rawComplete(key, u.uploadId, u.parts, headers)
          expect(res.status, `${key}: ${res.body.toString()}`).toBe(200)
          const xml = res.body.toString()
          expect(xmlValue(xml, 'Key')).toBe(key)
          await expectStored(key, xmlValue(xml, 'ETag')?.replace(/&quot;/g, '"'))
        }
      })

      it('BH-09 Complete carrying the whole-object x-amz-checksum-crc64nvme with x-amz-checksum-type FULL_OBJECT succeeds', async () => {
        // On Complete this header is the checksum of the whole object (API_CompleteMultipartUpload),
        // not of the XML body, so it must not be checked against the request body.
        const u = await startUpload('bh09/crc64-full-value', 'CRC64NVME', 'FULL_OBJECT')
        const res = await rawComplete('bh09/crc64-full-value', u.uploadId, u.parts, {
          'x-amz-checksum-type': 'FULL_OBJECT',
          'x-amz-checksum-crc64nvme': await crc64Base64(whole),
        })
        expect(res.status, res.body.toString()).toBe(200)
        await expectStored('bh09/crc64-full-value', xmlValue(res.body.toString(), 'ETag')?.replace(/&quot;/g, '"'))
      })
    })

    // ---------------------------------------------------------------------------------------------
    // BH-11

    describe('BH-11 ranged reads of a multipart object with checksum mode', () => {
      const data = randomBytes(11 * MiB + 12345)
      const key = 'bh11/big.bin'
      let uploaded: Promise<void> | undefined
      /** Uploaded once, by whichever BH-11 test runs first. */
      const ensureUploaded = () =>
        (uploaded ??= (async () => {
          // lib-storage at the SDK defaults: CRC32 on every part (the 2025 default-integrity shape).
          await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: data }, partSize: 5 * MiB, queueSize: 3 }).done()
        })())

      it('BH-11 ranged GETs (SDK ChecksumMode ENABLED, raw x-amz-checksum-mode) succeed and carry no whole-object checksum', async () => {
        await ensureUploaded()
        const size = data.length
        const ranges: [string, number, number][] = [
          ['bytes=0-1023', 0, 1023],
          [`bytes=${5 * MiB - 10}-${5 * MiB + 10}`, 5 * MiB - 10, 5 * MiB + 10], // across a part boundary
          [`bytes=0-${5 * MiB - 1}`, 0, 5 * MiB - 1], // exactly part 1
          [`bytes=${size - 500}-`, size - 500, size - 1],
          ['bytes=-777', size - 777, size - 1],
        ]
        for (const [range, from, to] of ranges) {
          const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range, ChecksumMode: 'ENABLED' }))
          expect(out.ContentRange, range).toBe(`bytes ${from}-${to}/${size}`)
          expect(checksumFields(out), range).toEqual([])
          expect((await bytesOf(out.Body)).equals(data.subarray(from, to + 1)), range).toBe(true)

          const raw = await signedRequest(t, { method: 'GET', path: objectPath(bucket, key), headers: { range, 'x-amz-checksum-mode': 'ENABLED' } })
          expect(raw.status, range).toBe(206)
          expect(raw.headers['content-range'], range).toBe(`bytes ${from}-${to}/${size}`)
          expect(checksumHeaders(raw.headers), range).toEqual([])
          expect(raw.body.equals(data.subarray(from, to + 1)), range).toBe(true)
        }
        // The whole object with checksum mode: fine too, whether or not a checksum is shown.
        const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))
        expect((await bytesOf(whole.Body)).equals(data)).toBe(true)
        const head = await signedRequest(t, { method: 'HEAD', path: objectPath(bucket, key), headers: { 'x-amz-checksum-mode': 'ENABLED' } })
        expect(head.status).toBe(200)
        expect(head.headers['content-length']).toBe(String(size))
      })

      it.skipIf(!haveAws)('BH-11 aws s3 cp download of it (parallel ranged GETs) succeeds, byte for byte', async () => {
        await ensureUploaded()
        const dir = await workdir('bh11-cli')
        await aws(dir, 's3', 'cp', '--only-show-errors', `s3://${bucket}/${key}`, join(dir, 'down.bin'))
        expect((await readFile(join(dir, 'down.bin'))).equals(data)).toBe(true)
        await aws(dir, 's3api', 'get-object', '--bucket', bucket, '--key', key, '--range', 'bytes=0-1023', join(dir, 'range.bin'))
        expect((await readFile(join(dir, 'range.bin'))).equals(data.subarray(0, 1024))).toBe(true)
      })
    })

    // ---------------------------------------------------------------------------------------------
    // BH-26 / BH-27 (documented deviation: opaque ETags ending in -N)

    /** The ETag of `key` as HEAD, GET, ListObjectsV2 and ListObjects (v1) show it. */
    async function etagsOf(key: string): Promise<string[]> {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      await bytesOf(get.Body)
      const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }))
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: key }))
      const fromList = (list: { Contents?: { Key?: string; ETag?: string }[] }) => list.Contents?.find((o) => o.Key === key)?.ETag
      return [head.ETag!, get.ETag!, fromList(v2)!, fromList(v1)!]
    }

    it('BH-27 single-PUT ETags are quoted, identical on PUT/HEAD/GET/LIST, end in -1 and are not the MD5 of the content', async () => {
      const bodies: [string, Buffer, Record<string, string>][] = [
        ['bh27/small.txt', Buffer.from('hello, etag\n'), {}],
        ['bh27/empty', Buffer.alloc(0), {}],
        ['bh27/64k.bin', randomBytes(65536), {}],
      ]
      for (const [key, body] of bodies) {
        // Content-MD5 as rclone and s3cmd send it: verified, yet the ETag stays opaque.
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }))
        expect(put.ETag, key).toMatch(/^"[0-9a-f]{32}-1"$/)
        expect(put.ETag, key).not.toContain(md5Hex(body))
        expect(await etagsOf(key), key).toEqual([put.ETag, put.ETag, put.ETag, put.ETag])
        // Quoted in the raw header and in the raw listing XML too, not only after the SDK's parsing.
        const raw = await signedRequest(t, { method: 'HEAD', path: objectPath(bucket, key) })
        expect(raw.headers.etag, key).toBe(put.ETag)
        const list = await signedRequest(t, { method: 'GET', path: objectPath(bucket), query: { 'list-type': '2', prefix: key } })
        expect(xmlValues(list.body.toString(), 'ETag').map((e) => e.replace(/&quot;/g, '"')), key).toEqual([put.ETag])
      }
    })

    it('BH-26 multipart ETags (parts of 5 MiB, 5 MiB, 1 MiB) are quoted, identical on Complete/HEAD/GET/LIST, end in -N, not the MD5', async () => {
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB)]
      const key = 'bh26/three-parts.bin'
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
      const completed: CompletedPart[] = []
      for (const [i, body] of parts.entries()) {
        const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }))
        // Opaque like object ETags (the MD5 of ciphertext, marked -1), so MD5-checking clients (s3cmd) skip it.
        expect(out.ETag).toMatch(/^"[0-9a-f]{32}-1"$/)
        expect(out.ETag).not.toContain(md5Hex(body))
        completed.push({ PartNumber: i + 1, ETag: out.ETag })
      }
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: completed } }))
      // Here the suffix is the client's part count, as S3 gives it.
      expect(done.ETag).toMatch(/^"[0-9a-f]{32}-3"$/)
      expect(done.ETag).not.toContain(md5Hex(Buffer.concat(parts)))
      expect(await etagsOf(key)).toEqual([done.ETag, done.ETag, done.ETag, done.ETag])
      // A server-side copy is a new single object: opaque -1, and its own value everywhere.
      const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'bh26/copy.bin', CopySource: `${bucket}/${key}` }))
      expect(copied.CopyObjectResult?.ETag).toMatch(OPAQUE_ETAG)
      const copyEtag = copied.CopyObjectResult!.ETag!
      expect(await etagsOf('bh26/copy.bin')).toEqual([copyEtag, copyEtag, copyEtag, copyEtag])
    })

    it.skipIf(!haveRclone)(`BH-26 BH-27 rclone (${rcloneVersion}) copy up (small + 12 MiB multipart), check (0 differences), copy down, byte for byte`, async () => {
      const dir = await workdir('rclone')
      await mkdir(join(dir, 'up'))
      const small = Buffer.from(`small rclone file ${randomBytes(8).toString('hex')}\n`)
      const big = randomBytes(12 * MiB)
      await writeFile(join(dir, 'up', 'small.txt'), small)
      await writeFile(join(dir, 'up', 'big.bin'), big)
      await writeFile(join(dir, 'rclone.conf'), '')
      // An on-the-fly remote. 5 MiB cutoff and chunks make the 12 MiB file a 3-part upload (BH-26),
      // while the small one is a single PUT with Content-MD5 (BH-27).
      const remote =
        `:s3,provider=Other,endpoint='${t.url}',access_key_id=${t.accessKeyId},secret_access_key='${t.secretAccessKey}',` +
        `upload_cutoff=5Mi,chunk_size=5Mi:${bucket}/rclone`
      const rclone = (...args: string[]) =>
        run('/usr/bin/env', ['-u', 'AWS_CA_BUNDLE', RCLONE, '--config', join(dir, 'rclone.conf'), '--retries', '1', '--low-level-retries', '1', ...args], awsClientEnv(t, dir), dir)

      await rclone('copy', join(dir, 'up'), remote)
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'rclone/big.bin' }))
      expect(head.ContentLength).toBe(big.length)
      expect(head.ETag).toMatch(OPAQUE_ETAG)

      const check = await rclone('check', join(dir, 'up'), remote)
      expect(check.stderr).toMatch(/\b0 differences found/)
      expect(check.stderr).toMatch(/\b2 matching files/)
      expect(check.stderr).not.toMatch(/ERROR/)

      // rclone never reports a wrong MD5. The multipart file's comes from the X-Amz-Meta-Md5chksum
      // rclone stored (so check really compared it); the single PUT's is blank, because its ETag ends
      // in -1 and rclone keeps no MD5 metadata for single PUTs: that is the "1 hashes could not be
      // checked" of the check above, not a difference.
      const sums = new Map<string, string>()
      for (const line of (await rclone('md5sum', remote)).stdout.split('\n')) {
        const m = /^\s*([0-9a-f]{32})?\s+(\S+)$/.exec(line)
        if (m) sums.set(m[2]!, m[1] ?? '')
      }
      expect(sums.get('big.bin')).toBe(md5Hex(big))
      expect(['', md5Hex(small)]).toContain(sums.get('small.txt'))

      await rclone('copy', remote, join(dir, 'down'))
      expect((await readFile(join(dir, 'down', 'small.txt'))).equals(small)).toBe(true)
      expect((await readFile(join(dir, 'down', 'big.bin'))).equals(big)).toBe(true)
    })

    // ---------------------------------------------------------------------------------------------
    // BH-41

    it('BH-41 CopyObject: REPLACE takes the request\'s headers and metadata, COPY keeps the source\'s, self-copy needs REPLACE', async () => {
      const body = randomBytes(3000)
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'bh41/src.bin',
          Body: body,
          ContentType: 'application/x-original',
          CacheControl: 'no-cache',
          ContentDisposition: 'attachment; filename="a.bin"',
          Metadata: { old: '1', shared: 'source' },
        })
      )
      const source = `${bucket}/bh41/src.bin`

      const kept = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'bh41/copy.bin', CopySource: source }))
      expect(kept.CopyObjectResult?.ETag).toMatch(OPAQUE_ETAG)
      expect(kept.CopyObjectResult?.LastModified).toBeInstanceOf(Date)
      const keptHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh41/copy.bin' }))
      expect(keptHead).toMatchObject({
        ContentType: 'application/x-original',
        CacheControl: 'no-cache',
        ContentDisposition: 'attachment; filename="a.bin"',
        Metadata: { old: '1', shared: 'source' },
        ETag: kept.CopyObjectResult?.ETag,
      })

      const replaced = await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'bh41/replaced.bin',
          CopySource: source,
          MetadataDirective: 'REPLACE',
          ContentType: 'text/csv',
          CacheControl: 'max-age=3600',
          Metadata: { fresh: 'yes', shared: 'request' },
        })
      )
      expect(replaced.CopyObjectResult?.ETag).toMatch(OPAQUE_ETAG)
      expect(replaced.CopyObjectResult?.LastModified).toBeInstanceOf(Date)
      const replacedHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh41/replaced.bin' }))
      expect(replacedHead).toMatchObject({ ContentType: 'text/csv', CacheControl: 'max-age=3600', ContentLength: body.length, ETag: replaced.CopyObjectResult?.ETag })
      // REPLACE takes *all* of it from the request: nothing of the source's survives.
      expect(replacedHead.Metadata).toEqual({ fresh: 'yes', shared: 'request' })
      expect(replacedHead.ContentDisposition).toBeUndefined()
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bh41/replaced.bin' }))
      expect(got.ContentType).toBe('text/csv')
      expect((await bytesOf(got.Body)).equals(body)).toBe(true)

      const self = await sdkError(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'bh41/src.bin', CopySource: source })))
      expect(self).toMatchObject({ name: 'InvalidRequest', status: 400 })
      const raw = await signedRequest(t, { method: 'PUT', path: objectPath(bucket, 'bh41/src.bin'), headers: { 'x-amz-copy-source': `/${source}` } })
      expect(raw.status).toBe(400)
      expect(xmlValue(raw.body.toString(), 'Code')).toBe('InvalidRequest')

      const refreshed = await s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: 'bh41/src.bin', CopySource: source, MetadataDirective: 'REPLACE', ContentType: 'text/plain', CacheControl: 'max-age=60' })
      )
      expect(refreshed.$metadata.httpStatusCode).toBe(200)
      expect(refreshed.CopyObjectResult?.ETag).toMatch(OPAQUE_ETAG)
      expect(refreshed.CopyObjectResult?.LastModified).toBeInstanceOf(Date)
      const refreshedHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh41/src.bin' }))
      expect(refreshedHead).toMatchObject({ ContentType: 'text/plain', CacheControl: 'max-age=60', ContentLength: body.length })
      expect(refreshedHead.Metadata ?? {}).toEqual({})
      const again = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bh41/src.bin' }))
      expect((await bytesOf(again.Body)).equals(body)).toBe(true)
    })

    it.skipIf(!haveAws)('BH-41 aws s3api copy-object --metadata-directive REPLACE --content-type text/csv --metadata k=v, then head-object', async () => {
      const dir = await workdir('bh41-cli')
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bh41/cli-src.txt', Body: 'a,b\n1,2\n', ContentType: 'text/plain', Metadata: { old: 'x' } }))
      const copy = await aws(
        dir, 's3api', 'copy-object', '--bucket', bucket, '--key', 'bh41/cli-dst.csv', '--copy-source', `${bucket}/bh41/cli-src.txt`,
        '--metadata-directive', 'REPLACE', '--content-type', 'text/csv', '--metadata', 'k=v'
      )
      const result = JSON.parse(copy.stdout) as { CopyObjectResult: { ETag: string; LastModified: string } }
      expect(result.CopyObjectResult.ETag).toMatch(OPAQUE_ETAG)
      expect(Number.isNaN(Date.parse(result.CopyObjectResult.LastModified))).toBe(false)
      const head = JSON.parse((await aws(dir, 's3api', 'head-object', '--bucket', bucket, '--key', 'bh41/cli-dst.csv')).stdout) as {
        ContentType: string
        Metadata: Record<string, string>
        ETag: string
      }
      expect(head).toMatchObject({ ContentType: 'text/csv', Metadata: { k: 'v' }, ETag: result.CopyObjectResult.ETag })

      // In place (a metadata refresh): refused without REPLACE, accepted with it.
      const selfArgs = ['s3api', 'copy-object', '--bucket', bucket, '--key', 'bh41/cli-dst.csv', '--copy-source', `${bucket}/bh41/cli-dst.csv`]
      await expect(aws(dir, ...selfArgs)).rejects.toThrow(/InvalidRequest/)
      await aws(dir, ...selfArgs, '--metadata-directive', 'REPLACE', '--content-type', 'text/csv; charset=utf-8', '--metadata', 'k=w')
      const after = JSON.parse((await aws(dir, 's3api', 'head-object', '--bucket', bucket, '--key', 'bh41/cli-dst.csv')).stdout) as { ContentType: string; Metadata: Record<string, string> }
      expect(after).toMatchObject({ ContentType: 'text/csv; charset=utf-8', Metadata: { k: 'w' } })
    })

    it.skipIf(!haveAws)('aws s3 cp of a multipart object between buckets reads the source tags (none) and copies it', async () => {
      const dir = await workdir('tags-cli')
      const data = randomBytes(12 * 1024 * 1024 + 5)
      await writeFile(join(dir, 'big.bin'), data)
      const other = t.bucketName('compat-dst')
      await s3.send(new CreateBucketCommand({ Bucket: other }))
      await aws(dir, 's3', 'cp', '--only-show-errors', join(dir, 'big.bin'), `s3://${bucket}/tags/big.bin`)
      // For large objects aws-cli copies part by part and first asks for the source's tags.
      await aws(dir, 's3', 'cp', '--only-show-errors', `s3://${bucket}/tags/big.bin`, `s3://${other}/big.bin`)
      await aws(dir, 's3', 'cp', '--only-show-errors', `s3://${other}/big.bin`, join(dir, 'back.bin'))
      expect((await readFile(join(dir, 'back.bin'))).equals(data)).toBe(true)
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: other, Key: 'big.bin' }))
      expect(tags.TagSet ?? []).toEqual([])
      // Tags cannot be written, so the empty answer stays true: a PUT asking for tags is refused and stores nothing.
      await expect(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/tagged', Body: 'x', Tagging: 'a=b' }))).rejects.toMatchObject({
        name: 'NotImplemented',
      })
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tags/tagged' }))).rejects.toMatchObject({ name: 'NotFound' })
      await expect(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tags/missing' }))).rejects.toMatchObject({ name: 'NoSuchKey' })
    })
  })
}
