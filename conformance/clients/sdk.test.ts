/**
 * @module conformance/clients/sdk.test
 * The client matrix for @aws-sdk/client-s3 (the repo's version) at its defaults (CRC32 checksums,
 * aws-chunked streaming bodies): PutObject for the small file, lib-storage `Upload` (5 MiB parts) for
 * 20 MiB, ListObjectsV2, GetObject, a sync written the way an SDK user would (copy when missing, when
 * the size differs, or when a plain-MD5 ETag is not the file's), and s3-request-presigner.
 * The client is the suite's (path style, the target's region and CA bundle) with the SDK's default retries.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { mkdir, readFile, readdir, stat } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { s3Client } from '../support/target.js'
import { MiB, clientMatrix, sdkList, type ClientContext, type ClientDriver } from './matrix.js'

const SDK_PACKAGE = new URL('../../node_modules/@aws-sdk/client-s3/package.json', import.meta.url)
const VERSION = (JSON.parse(await readFile(SDK_PACKAGE, 'utf8')) as { version: string }).version

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
  }
  return out
}

async function md5File(file: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** True when the local file and the listed object differ by size, or by a plain-MD5 ETag. */
async function differs(file: string, remote: { size: number; etag: string } | undefined): Promise<boolean> {
  if (!remote || remote.size !== (await stat(file)).size) return true
  const etag = remote.etag.replaceAll('"', '')
  return !etag.includes('-') && etag !== (await md5File(file))
}

async function download(s3: S3Client, bucket: string, key: string, file: string): Promise<void> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  await mkdir(dirname(file), { recursive: true })
  await pipeline(got.Body as Readable, createWriteStream(file))
}

function sdkDriver(ctx: ClientContext): ClientDriver {
  // the SDK's default of 3 attempts (the suite's own client makes one)
  const s3 = s3Client({ maxAttempts: 3 })
  const t = ctx.target
  return {
    makeBucket: async (bucket) => {
      // outside us-east-1, S3 wants the region named in the body
      const location = t.region === 'us-east-1' ? undefined : { LocationConstraint: t.region as BucketLocationConstraint }
      await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: location }))
    },
    upload: async (file, bucket, key, big) => {
      if (!big) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file) }))
        return
      }
      // lib-storage at its defaults: a stream cut into 5 MiB parts, four in flight
      await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: createReadStream(file) } }).done()
    },
    list: async (bucket) => [...(await sdkList(s3, bucket))].map(([key, v]) => ({ key, size: v.size })),
    download: (bucket, key, file) => download(s3, bucket, key, file),
    syncUp: async (dir, bucket, prefix) => {
      const remote = await sdkList(s3, bucket, prefix)
      let count = 0
      for (const rel of await filesUnder(dir)) {
        const file = join(dir, rel)
        if (!(await differs(file, remote.get(prefix + rel)))) continue
        const params = { Bucket: bucket, Key: prefix + rel, Body: createReadStream(file) }
        await new Upload({ client: s3, params }).done()
        count++
      }
      return count
    },
    syncDown: async (bucket, prefix, dir) => {
      let count = 0
      for (const [key, remote] of await sdkList(s3, bucket, prefix)) {
        const file = join(dir, ...key.slice(prefix.length).split('/'))
        if (existsSync(file) && !(await differs(file, remote))) continue
        await download(s3, bucket, key, file)
        count++
      }
      return count
    },
    presign: (_step, bucket, key) =>
      getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 3600 }),
    deleteObject: async (bucket, key) => void (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))),
    deleteAll: async (bucket) => {
      const keys = [...(await sdkList(s3, bucket)).keys()]
      for (let at = 0; at < keys.length; at += 1000) {
        const objects = keys.slice(at, at + 1000).map((Key) => ({ Key }))
        const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }))
        const errors = (result.Errors ?? []).map((e) => `${e.Key}: ${e.Code}`)
        if (errors.length) throw new Error(`DeleteObjects: ${errors.join(', ')}`)
      }
    },
    removeBucket: async (bucket) => void (await s3.send(new DeleteBucketCommand({ Bucket: bucket }))),
    close: () => s3.destroy(),
  }
}

clientMatrix({
  name: 'sdk',
  version: `@aws-sdk/client-s3 ${VERSION}`,
  // lib-storage's default part size
  partSize: 5 * MiB,
  driver: sdkDriver,
})
