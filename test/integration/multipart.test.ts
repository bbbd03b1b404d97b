/**
 * Multipart uploads through the running gateway (a real process) on both backends — the disk store and
 * a real Ceph RGW upstream — with @aws-sdk/lib-storage, @aws-sdk/client-s3 and aws-cli v2, and the
 * multipart cases (group G: BH-34, BH-36, BH-38) of ../shared/cases/client-compat.md. Stored objects
 * are read straight from RGW to show they are ciphertext of the canonical size. Expectations are
 * computed (sizes, slices), never stored.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uploadPrefix } from '../../src/backend/encrypted-multipart.js'
import { storedSize } from '../../src/crypto/format.js'
import { rgwForTests } from '../helpers/rgw.js'
import { MiB, markerBytes, objectPath, requireTool, sdkError, signedRequest, startTarget, xmlValue, type BackendKind, type Target } from './support.js'

const rgw = await rgwForTests()
const AWS_CLI = '/usr/bin/aws'
const hasAwsCli = requireTool('aws-cli v2 at /usr/bin/aws', existsSync(AWS_CLI), 'apt-get install -y awscli')
const BACKENDS: BackendKind[] = ['disk', 'rgw']

async function bytesOf(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Buffer> {
  return Buffer.from(await body!.transformToByteArray())
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`multipart, ${kind} backend`, () => {
    let t: Target
    let s3: S3Client
    let bucket: string

    beforeAll(async () => {
      t = await startTarget(kind, rgw)
      s3 = t.client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
      bucket = t.bucketName('mp')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
    })

    /** Uploads `parts` as parts 1..n with client-s3 and completes; returns the ETag. */
    async function uploadParts(key: string, parts: Buffer[]): Promise<string> {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'text/x-mp', Metadata: { origin: 'mp' } }))
      const completed: CompletedPart[] = []
      for (let i = 0; i < parts.length; i++) {
        const out = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: parts[i] }))
        completed.push({ PartNumber: i + 1, ETag: out.ETag })
      }
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: completed } }))
      return done.ETag!
    }

    async function get(key: string, range?: string): Promise<{ body: Buffer; contentRange?: string }> {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }))
      return { body: await bytesOf(out.Body), contentRange: out.ContentRange }
    }

    it('@aws-sdk/lib-storage Upload: 20 MiB in 5 MiB parts, 4 at a time, reads back identical', async () => {
      const data = randomBytes(20 * MiB)
      const upload = new Upload({ client: t.client(), params: { Bucket: bucket, Key: 'lib-storage.bin', Body: data }, partSize: 5 * MiB, queueSize: 4 })
      const result = await upload.done()
      expect(result.ETag).toMatch(/^"[0-9a-f]{32}-\d+"$/)
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'lib-storage.bin' }))
      expect(head.ContentLength).toBe(data.length)
      expect(head.ETag).toBe(result.ETag)
      expect((await get('lib-storage.bin')).body.equals(data)).toBe(true)
    })

    it.skipIf(!hasAwsCli)('aws-cli v2 s3 cp of 20 MiB up and down (8 MiB parts), byte for byte', async () => {
      const dir = await mkdtemp(join(tmpdir(), 's3veil-awscli-'))
      try {
        const config = join(dir, 'config')
        await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n')
        const env = {
          ...process.env,
          AWS_ACCESS_KEY_ID: t.accessKeyId,
          AWS_SECRET_ACCESS_KEY: t.secretAccessKey,
          AWS_CONFIG_FILE: config,
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_PAGER: '',
        }
        const source = join(dir, 'up.bin')
        const back = join(dir, 'down.bin')
        const data = randomBytes(20 * MiB)
        await writeFile(source, data)
        await run(AWS_CLI, ['--endpoint-url', t.url, 's3', 'cp', source, `s3://${bucket}/cli/20mib.bin`], env)
        const parts = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cli/20mib.bin' }))
        expect(parts.ContentLength).toBe(data.length)
        await run(AWS_CLI, ['--endpoint-url', t.url, 's3', 'cp', `s3://${bucket}/cli/20mib.bin`, back], env)
        expect((await readFile(back)).equals(data)).toBe(true)
        // Bucket to bucket: aws-cli copies objects over its threshold with UploadPartCopy (8 MiB ranges).
        await run(AWS_CLI, ['--endpoint-url', t.url, 's3', 'cp', `s3://${bucket}/cli/20mib.bin`, `s3://${bucket}/cli/copy.bin`, '--copy-props', 'metadata-directive'], env)
        await rm(back)
        await run(AWS_CLI, ['--endpoint-url', t.url, 's3', 'cp', `s3://${bucket}/cli/copy.bin`, back], env)
        expect((await readFile(back)).equals(data)).toBe(true)
        const { stdout } = await run(AWS_CLI, ['--endpoint-url', t.url, 's3', 'ls', `s3://${bucket}/cli/`], env)
        expect(stdout).toContain(`${data.length} 20mib.bin`)
        expect(stdout).toContain(`${data.length} copy.bin`)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('parts of 5 MiB + 1, 5 MiB + 1 and 3 bytes (BH-36: 5 MiB + 1 parts are fine); ranges across boundaries and suffixes', async () => {
      const parts = [randomBytes(5 * MiB + 1), randomBytes(5 * MiB + 1), randomBytes(3)]
      const data = Buffer.concat(parts)
      const etag = await uploadParts('odd.bin', parts)
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'odd.bin' }))
      expect(head).toMatchObject({ ContentLength: data.length, ETag: etag, ContentType: 'text/x-mp', Metadata: { origin: 'mp' } })
      expect((await get('odd.bin')).body.equals(data)).toBe(true)
      const b1 = 5 * MiB + 1
      const ranges: [string, number, number][] = [
        [`bytes=${b1 - 100}-${b1 + 100}`, b1 - 100, b1 + 100],
        [`bytes=${2 * b1 - 1}-${2 * b1 + 1}`, 2 * b1 - 1, 2 * b1 + 1],
        [`bytes=${b1 - 70_000}-`, b1 - 70_000, data.length - 1],
        ['bytes=-4', data.length - 4, data.length - 1],
        ['bytes=-70000', data.length - 70_000, data.length - 1],
        [`bytes=0-${3 * b1}`, 0, data.length - 1],
      ]
      for (const [range, from, to] of ranges) {
        const got = await get('odd.bin', range)
        expect(got.contentRange, range).toBe(`bytes ${from}-${to}/${data.length}`)
        expect(got.body.equals(data.subarray(from, to + 1)), range).toBe(true)
      }
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'odd' }))
      expect(listed.Contents?.map((o) => [o.Key, o.Size, o.ETag])).toEqual([['odd.bin', data.length, etag]])
    })

    it('a 2-part upload whose last part is 64 KiB - 1, 64 KiB and 64 KiB + 1', async () => {
      for (const last of [65535, 65536, 65537]) {
        const parts = [randomBytes(5 * MiB), randomBytes(last)]
        await uploadParts(`two-${last}`, parts)
        const data = Buffer.concat(parts)
        expect((await get(`two-${last}`)).body.equals(data)).toBe(true)
        const got = await get(`two-${last}`, `bytes=${5 * MiB - 1}-${5 * MiB + 1}`)
        expect(got.body.equals(data.subarray(5 * MiB - 1, 5 * MiB + 2))).toBe(true)
      }
    })

    // Only RGW can be read around the gateway here (the disk store's files are checked by backend tests).
    if (kind === 'rgw') it('the stored object on RGW is ciphertext of size storedSize(P) with no plaintext in it', async () => {
      const parts = [markerBytes(5 * MiB), markerBytes(1000)]
      await uploadParts('marker.bin', parts)
      const stored = await t.upstream!.send(new GetObjectCommand({ Bucket: bucket, Key: 'marker.bin' }))
      const bytes = await bytesOf(stored.Body)
      expect(bytes.length).toBe(storedSize(5 * MiB + 1000))
      expect(bytes.includes(Buffer.from('S3VEIL-PLAINTEXT-MARKER-'))).toBe(false)
      expect(stored.Metadata?.['s3veil-mp']).toBe('1')
      // What clients see of the same object: plaintext, without the gateway's metadata.
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'marker.bin' }))
      expect(head.Metadata).toEqual({ origin: 'mp' })
    })

    describe('CopyObject and UploadPartCopy', () => {
      const source = (b: string, key: string) => `${b}/${key.split('/').map(encodeURIComponent).join('/')}`

      it('copies across buckets (COPY keeps metadata), onto itself with REPLACE, keys with spaces, unicode and +', async () => {
        const other = t.bucketName('cp')
        await s3.send(new CreateBucketCommand({ Bucket: other }))
        const data = randomBytes(200_000)
        await uploadParts('copy/src ü+1.bin', [data])
        const copied = await s3.send(
          new CopyObjectCommand({ Bucket: other, Key: 'dst ü+2 x.bin', CopySource: source(bucket, 'copy/src ü+1.bin') })
        )
        expect(copied.CopyObjectResult?.ETag).toMatch(/^"[0-9a-f]{32}-1"$/)
        const head = await s3.send(new HeadObjectCommand({ Bucket: other, Key: 'dst ü+2 x.bin' }))
        expect(head).toMatchObject({ ContentLength: data.length, ContentType: 'text/x-mp', Metadata: { origin: 'mp' }, ETag: copied.CopyObjectResult?.ETag })
        const got = await s3.send(new GetObjectCommand({ Bucket: other, Key: 'dst ü+2 x.bin', Range: 'bytes=-1000' }))
        expect((await bytesOf(got.Body)).equals(data.subarray(data.length - 1000))).toBe(true)
        if (t.upstream) {
          // A server-side byte copy: the same ciphertext under a re-wrapped key.
          const [a, b] = await Promise.all([
            t.upstream.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/src ü+1.bin' })).then((o) => bytesOf(o.Body)),
            t.upstream.send(new GetObjectCommand({ Bucket: other, Key: 'dst ü+2 x.bin' })).then((o) => bytesOf(o.Body)),
          ])
          expect(b.equals(a)).toBe(true)
        }
        await s3.send(
          new CopyObjectCommand({
            Bucket: other,
            Key: 'dst ü+2 x.bin',
            CopySource: source(other, 'dst ü+2 x.bin'),
            MetadataDirective: 'REPLACE',
            ContentType: 'image/png',
            Metadata: { fresh: 'yes' },
          })
        )
        const replaced = await s3.send(new HeadObjectCommand({ Bucket: other, Key: 'dst ü+2 x.bin' }))
        expect(replaced).toMatchObject({ ContentType: 'image/png', Metadata: { fresh: 'yes' }, ContentLength: data.length })
        const self = await sdkError(s3.send(new CopyObjectCommand({ Bucket: other, Key: 'dst ü+2 x.bin', CopySource: source(other, 'dst ü+2 x.bin') })))
        expect(self).toMatchObject({ name: 'InvalidRequest', status: 400 })
        const refused = await sdkError(
          s3.send(new CopyObjectCommand({ Bucket: other, Key: 'never', CopySource: source(bucket, 'copy/src ü+1.bin'), CopySourceIfMatch: '"0"' }))
        )
        expect(refused).toMatchObject({ name: 'PreconditionFailed', status: 412 })
      })

      it('UploadPartCopy with ranges (misaligned) builds a multipart object from another', async () => {
        const data = randomBytes(10 * MiB + 12345)
        await uploadParts('upc-src', [data.subarray(0, 5 * MiB + 7), data.subarray(5 * MiB + 7)])
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'upc-dst' }))
        const cut = 5 * MiB + 99
        const p1 = await s3.send(
          new UploadPartCopyCommand({ Bucket: bucket, Key: 'upc-dst', UploadId, PartNumber: 1, CopySource: source(bucket, 'upc-src'), CopySourceRange: `bytes=0-${cut - 1}` })
        )
        const p2 = await s3.send(
          new UploadPartCopyCommand({ Bucket: bucket, Key: 'upc-dst', UploadId, PartNumber: 2, CopySource: source(bucket, 'upc-src'), CopySourceRange: `bytes=${cut}-${data.length - 1}` })
        )
        const extra = randomBytes(10)
        const p3 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'upc-dst', UploadId, PartNumber: 3, Body: extra }))
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: 'upc-dst',
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: p1.CopyPartResult?.ETag },
                { PartNumber: 2, ETag: p2.CopyPartResult?.ETag },
                { PartNumber: 3, ETag: p3.ETag },
              ],
            },
          })
        )
        expect((await get('upc-dst')).body.equals(Buffer.concat([data, extra]))).toBe(true)
        const bad = await sdkError(
          s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'upc-dst', UploadId: 'nope', PartNumber: 1, CopySource: source(bucket, 'upc-src'), CopySourceRange: `bytes=0-${data.length}` }))
        )
        expect(bad.status).toBeGreaterThanOrEqual(400)
      })
    })

    describe('group G of client-compat.md, and bad input', () => {
      async function start(key: string): Promise<string> {
        return (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!
      }
      async function part(key: string, uploadId: string, n: number, body: Buffer): Promise<string> {
        return (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body }))).ETag!
      }
      const complete = (key: string, uploadId: string, parts: CompletedPart[]) =>
        s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }))

      it('BH-34: parts out of order on Complete are InvalidPartOrder', async () => {
        const id = await start('bh34')
        const e1 = await part('bh34', id, 1, randomBytes(5 * MiB))
        const e2 = await part('bh34', id, 2, randomBytes(10))
        const err = await sdkError(complete('bh34', id, [{ PartNumber: 2, ETag: e2 }, { PartNumber: 1, ETag: e1 }]))
        expect(err).toMatchObject({ name: 'InvalidPartOrder', status: 400 })
        await complete('bh34', id, [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }])
      })

      it('BH-36: two 1 MiB parts are EntityTooSmall (with S3\'s fields); one 1-byte part is fine', async () => {
        const id = await start('bh36')
        const e1 = await part('bh36', id, 1, randomBytes(MiB))
        const e2 = await part('bh36', id, 2, randomBytes(MiB))
        const body = Buffer.from(
          `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${e1}</ETag></Part>` +
            `<Part><PartNumber>2</PartNumber><ETag>${e2}</ETag></Part></CompleteMultipartUpload>`
        )
        const raw = await signedRequest(t, { method: 'POST', path: objectPath(bucket, 'bh36'), query: { uploadId: id }, body })
        expect(raw.status).toBe(400)
        const xml = raw.body.toString()
        expect(xmlValue(xml, 'Code')).toBe('EntityTooSmall')
        expect(xmlValue(xml, 'ProposedSize')).toBe(String(MiB))
        expect(xmlValue(xml, 'MinSizeAllowed')).toBe(String(5 * MiB))
        expect(xmlValue(xml, 'PartNumber')).toBe('1')
        expect(xmlValue(xml, 'ETag')).toBe(e1.replace(/"/g, ''))
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'bh36', UploadId: id }))
        const one = await start('bh36-one')
        const e = await part('bh36-one', one, 1, Buffer.from('z'))
        await complete('bh36-one', one, [{ PartNumber: 1, ETag: e }])
        expect((await get('bh36-one')).body.toString()).toBe('z')
      })

      it('BH-38: a failed Complete is a real 4xx with an <Error> body, never a 200', async () => {
        const id = await start('bh38')
        await part('bh38', id, 1, randomBytes(100))
        const body = Buffer.from('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"0123456789abcdef0123456789abcdef"</ETag></Part></CompleteMultipartUpload>')
        const raw = await signedRequest(t, { method: 'POST', path: objectPath(bucket, 'bh38'), query: { uploadId: id }, body })
        expect(raw.status).toBe(400)
        expect(xmlValue(raw.body.toString(), 'Code')).toBe('InvalidPart')
        const bad = await signedRequest(t, { method: 'POST', path: objectPath(bucket, 'bh38'), query: { uploadId: id }, body: Buffer.from('<nope') })
        expect(bad.status).toBe(400)
        expect(xmlValue(bad.body.toString(), 'Code')).toBe('MalformedXML')
        const err = await sdkError(complete('bh38', id, [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }]))
        expect(err).toMatchObject({ name: 'InvalidPart', status: 400 })
        await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bh38' }))).rejects.toMatchObject({ name: 'NotFound' })
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'bh38', UploadId: id }))
      })

      it('abort twice (NoSuchUpload the second time), and Complete after Abort is NoSuchUpload', async () => {
        const id = await start('aborted')
        const e = await part('aborted', id, 1, randomBytes(10))
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'aborted', UploadId: id }))
        expect(await sdkError(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'aborted', UploadId: id })))).toMatchObject({
          name: 'NoSuchUpload',
          status: 404,
        })
        expect(await sdkError(complete('aborted', id, [{ PartNumber: 1, ETag: e }]))).toMatchObject({ name: 'NoSuchUpload', status: 404 })
        expect(await sdkError(s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'aborted', UploadId: id })))).toMatchObject({ name: 'NoSuchUpload' })
      })

      it('a part re-uploaded with different bytes: the last one wins', async () => {
        const id = await start('again')
        await part('again', id, 1, Buffer.from('first version'))
        const e = await part('again', id, 1, Buffer.from('second'))
        const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'again', UploadId: id }))
        expect(parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, e, 6]])
        await complete('again', id, [{ PartNumber: 1, ETag: e }])
        expect((await get('again')).body.toString()).toBe('second')
      })

      it('uploads in progress are listed; the gateway\'s internal objects never are', async () => {
        const id = await start('inflight/obj')
        await part('inflight/obj', id, 1, randomBytes(100)) // kept aside: an internal object exists now
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'inflight/' }))
        expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([['inflight/obj', id]])
        const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
        expect(all.Contents?.some((o) => o.Key!.startsWith('.s3veil/'))).toBe(false)
        const rolled = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }))
        expect(rolled.CommonPrefixes?.map((p) => p.Prefix)).not.toContain('.s3veil/')
        const hidden = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '.s3veil/' }))
        expect(hidden.KeyCount).toBe(0)
        expect(await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: '.s3veil/uploads/x' })))).toMatchObject({
          name: 'InvalidArgument',
          status: 400,
        })
        // On RGW the internal objects are visible to a direct client: the record and the kept-aside part.
        const own = uploadPrefix(id)
        if (t.upstream) {
          const stored = await t.upstream.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: own }))
          expect(stored.Contents?.map((o) => o.Key!.slice(own.length)).sort()).toEqual(['part/00001', 'record'])
        }
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'inflight/obj', UploadId: id }))
        if (t.upstream) {
          const after = await t.upstream.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: own }))
          expect(after.KeyCount).toBe(0)
        }
      })
    })
  })
}
