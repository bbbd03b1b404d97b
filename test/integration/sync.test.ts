/**
 * Real clients' transfer managers against the running gateway, on the disk store and on RGW:
 * `aws s3 sync` (Debian's aws-cli v2, /usr/bin/aws) of a tree of files at every size class that
 * matters to the gateway (0 B, 1 B, 64 KiB ± 1, 5 MiB ± 1, 8 MiB, 12 MiB) up and back down to a fresh
 * directory (`diff -r`), with listed sizes equal to the local ones; and boto3's `upload_file` /
 * `download_file` (the machine's python3: a current boto3 with the 2025 default checksums) of 12 MiB
 * over a 5 MiB multipart threshold. Under CI a missing client fails the file.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests } from '../helpers/rgw.js'
import { MiB, probe, requireTool, startTarget, type BackendKind, type Target } from './support.js'

const rgw = await rgwForTests()
const AWS_CLI = '/usr/bin/aws'
const hasAwsCli = requireTool('aws-cli v2 at /usr/bin/aws', existsSync(AWS_CLI), 'apt-get install -y awscli')
/** The python3 on PATH (pyenv here) with a boto3 new enough to send the 2025 default checksums. */
const boto3Version = probe('python3', ['-c', 'import boto3; print(boto3.__version__)'])?.trim()
const hasCurrentBoto3 = requireTool(
  'python3 with boto3 >= 1.36 on PATH (2025 default checksums)',
  boto3Version !== undefined && Number(boto3Version.split('.')[1]) >= 36,
  `found boto3 ${boto3Version ?? 'none'}`
)
const BACKENDS: BackendKind[] = ['disk', 'rgw']
const KiB = 1024

/** Path → size: every size class of the format and of S3's multipart rules, in a nested tree. */
const TREE: [string, number][] = [
  ['empty', 0],
  ['one-byte', 1],
  ['a/64k-1.bin', 64 * KiB - 1],
  ['a/64k.bin', 64 * KiB],
  ['a/64k+1.bin', 64 * KiB + 1],
  ['a/b/5m-1.bin', 5 * MiB - 1],
  ['a/b/5m.bin', 5 * MiB],
  ['a/b/5m+1.bin', 5 * MiB + 1],
  ['c/8m.bin', 8 * MiB],
  ['c/d/e/12m.bin', 12 * MiB],
]

/** boto3 upload_file then download_file with a 5 MiB multipart threshold; prints what HEAD says. */
const BOTO3_TRANSFER = `
import json, sys
import boto3
from boto3.s3.transfer import TransferConfig
a = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=a["endpoint"], aws_access_key_id=a["accessKeyId"],
                  aws_secret_access_key=a["secretAccessKey"], region_name="us-east-1")
config = TransferConfig(multipart_threshold=5 * 1024 * 1024)
s3.upload_file(a["source"], a["bucket"], a["key"], Config=config)
s3.download_file(a["bucket"], a["key"], a["target"], Config=config)
head = s3.head_object(Bucket=a["bucket"], Key=a["key"])
print(json.dumps({"boto3": boto3.__version__, "size": head["ContentLength"], "etag": head["ETag"]}))
`

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`transfer managers, ${kind} backend`, () => {
    let t: Target
    let s3: S3Client
    let dir: string
    let env: NodeJS.ProcessEnv

    beforeAll(async () => {
      t = await startTarget(kind, rgw)
      s3 = t.client()
      dir = await mkdtemp(join(tmpdir(), `s3veil-sync-${kind}-`))
      // 5 MiB parts, so that 5 MiB + 1 is a 2-part upload with a 1-byte last part (kept aside until
      // Complete), 8 MiB and 12 MiB have misaligned last parts, and downloads are 5 MiB ranged GETs.
      const config = join(dir, 'config')
      await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n')
      env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: t.accessKeyId,
        AWS_SECRET_ACCESS_KEY: t.secretAccessKey,
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      }
    })

    afterAll(async () => {
      s3?.destroy()
      await t?.stop()
      if (dir) await rm(dir, { recursive: true, force: true })
    })

    it.skipIf(!hasAwsCli)('aws s3 sync of a mixed-size tree up and down: diff -r clean, sizes listed exactly, resync no-op', async () => {
      const bucket = t.bucketName('sync')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      const up = join(dir, 'up')
      const down = join(dir, 'down')
      for (const [path, size] of TREE) {
        await mkdir(dirname(join(up, path)), { recursive: true })
        await writeFile(join(up, path), randomBytes(size))
        // S3 keeps whole seconds of LastModified, and sync uploads again when the local file is newer:
        // files written in the same second as their upload would look changed on the resync.
        const past = new Date(Date.now() - 60_000)
        await utimes(join(up, path), past, past)
      }
      const aws = (...args: string[]) => run(AWS_CLI, ['--endpoint-url', t.url, ...args], env)
      await aws('s3', 'sync', '--only-show-errors', up, `s3://${bucket}/tree/`)

      const { stdout } = await aws('s3', 'ls', '--recursive', `s3://${bucket}/`)
      const listed = stdout
        .trim()
        .split('\n')
        .map((line) => {
          const m = /^\S+ \S+\s+(\d+) (.*)$/.exec(line)
          return m ? [m[2]!, Number(m[1])] : [line, -1]
        })
        .sort()
      expect(listed).toEqual(TREE.map(([path, size]) => [`tree/${path}`, size]).sort())

      // Sizes and times agree, so syncing again uploads nothing.
      const again = await aws('s3', 'sync', up, `s3://${bucket}/tree/`)
      expect(again.stdout).not.toContain('upload:')

      await aws('s3', 'sync', '--only-show-errors', `s3://${bucket}/tree/`, down)
      await run('diff', ['-r', up, down], env)
      for (const [path, size] of TREE) expect((await stat(join(down, path))).size, path).toBe(size)
    })

    it.skipIf(!hasCurrentBoto3)(`boto3 ${boto3Version ?? ''} upload_file / download_file, 12 MiB over a 5 MiB threshold`, async () => {
      const bucket = t.bucketName('boto3mp')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      const source = join(dir, 'boto3-up.bin')
      const target = join(dir, 'boto3-down.bin')
      const data = randomBytes(12 * MiB)
      await writeFile(source, data)
      const { url: endpoint, accessKeyId, secretAccessKey } = t
      const args = { endpoint, accessKeyId, secretAccessKey, bucket, key: 'big/12m.bin', source, target }
      const { stdout } = await run('python3', ['-c', BOTO3_TRANSFER, JSON.stringify(args)], {
        ...env,
        AWS_REQUEST_CHECKSUM_CALCULATION: undefined,
        AWS_RESPONSE_CHECKSUM_VALIDATION: undefined,
      })
      const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { boto3: string; size: number; etag: string }
      expect(out.boto3).toBe(boto3Version)
      expect(out.size).toBe(data.length)
      // boto3's default 8 MiB chunks: a 2-part upload.
      expect(out.etag).toMatch(/^"[0-9a-f]{32}-2"$/)
      expect((await readFile(target)).equals(data)).toBe(true)
    })
  })
}
