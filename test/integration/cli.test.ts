/**
 * Real command-line clients against the running gateway, on both backends: aws-cli v2 (Debian's,
 * /usr/bin/aws) and boto3 — the machine's `python3` (a current boto3 with the 2025 default
 * checksums) and Debian's /usr/bin/python3 with python3-boto3 (pre-2025 defaults) — each running a
 * short session (make bucket, put a small and a 7 MiB object, list, get and compare, delete) once at
 * default settings and once with AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION
 * = when_required. 7 MiB stays below the clients' 8 MiB multipart threshold: multipart is issue 3.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { HeadBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rgwForTests } from '../helpers/rgw.js'
import { MiB, awsClientEnv, probe, requireTool, sdkError, startTarget, type BackendKind, type Target } from './support.js'

const rgw = await rgwForTests()
const BACKENDS: BackendKind[] = ['disk', 'rgw']
const SETTINGS: { name: string; env: Record<string, string> }[] = [
  { name: 'default settings', env: {} },
  { name: 'when_required', env: { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required' } },
]
const ETAG = /^"[0-9a-f]{32}(-\d+)?"$/
const SCENARIO = resolve(import.meta.dirname, 'boto3_scenario.py')
const SMALL_KEY = 'dir/small file+1%.txt'

// --- which clients this machine has -------------------------------------------------------------
const AWS_V2 = '/usr/bin/aws'
const awsV2Version = probe(AWS_V2, ['--version'])?.trim()
const haveAwsV2 = requireTool('aws-cli v2 at /usr/bin/aws', awsV2Version?.startsWith('aws-cli/2.') ?? false, 'apt-get install awscli')

interface Python {
  label: string
  executable: string
  boto3: string
}

function pythonWithBoto3(command: string): Python | undefined {
  const out = probe(command, ['-c', 'import sys, boto3; print(boto3.__version__, sys.executable)'])
  if (!out) return undefined
  const [boto3, executable] = out.trim().split(' ')
  return boto3 && executable ? { label: `${command} (boto3 ${boto3})`, executable, boto3 } : undefined
}

const debianPython = pythonWithBoto3('/usr/bin/python3')
const haveDebianBoto3 = requireTool('boto3 for /usr/bin/python3', debianPython !== undefined, 'apt-get install python3-boto3')
// The machine's python3 (pyenv here) is an extra client when it is another interpreter or boto3.
const pathPython = pythonWithBoto3('python3')
const pythons: Python[] = []
if (debianPython) pythons.push(debianPython)
if (pathPython && (!debianPython || pathPython.executable !== debianPython.executable || pathPython.boto3 !== debianPython.boto3)) {
  pythons.push(pathPython)
} else if (!pathPython) {
  console.warn('note: no python3 with boto3 on PATH besides /usr/bin/python3; the current-boto3 run is skipped')
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    execFile(file, args, { env, cwd, timeout: 120_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
      else resolveRun({ stdout, stderr })
    })
  })
}

for (const kind of BACKENDS) {
  describe.skipIf(kind === 'rgw' && !rgw)(`${kind} backend: command-line clients`, () => {
    let t: Target
    let root: string
    let small: Buffer
    let big: Buffer

    beforeAll(async () => {
      t = await startTarget(kind, rgw)
      root = await mkdtemp(join(tmpdir(), 's3veil-cli-'))
      small = Buffer.from(`small object ${randomBytes(8).toString('hex')}\n`.repeat(40))
      big = randomBytes(7 * MiB)
    })

    afterAll(async () => {
      await t?.stop()
      if (root) await rm(root, { recursive: true, force: true })
    })

    async function workdir(label: string): Promise<string> {
      const dir = join(root, label.replace(/\W+/g, '-'))
      await mkdir(join(dir, 'up', 'dir'), { recursive: true })
      await mkdir(join(dir, 'down'), { recursive: true })
      await writeFile(join(dir, 'up', 'dir', 'small file+1%.txt'), small)
      await writeFile(join(dir, 'up', 'big.bin'), big)
      await writeFile(join(dir, 'small.txt'), small)
      await writeFile(join(dir, 'big.bin'), big)
      return dir
    }

    for (const setting of SETTINGS) {
      it.skipIf(!haveAwsV2)(`aws-cli v2 (${awsV2Version?.split(' ')[0]}), ${setting.name}: mb, cp up, ls, cp down, rm, rb (BH-13, BH-14, BH-23)`, async () => {
        const dir = await workdir(`awsv2-${setting.name}`)
        const env = awsClientEnv(t, dir, setting.env)
        const bucket = t.bucketName('awscli')
        const aws = (...args: string[]) => run(AWS_V2, ['--endpoint-url', t.url, ...args], env, dir)

        await aws('s3', 'mb', `s3://${bucket}`)
        await aws('s3', 'cp', '--only-show-errors', '--recursive', join(dir, 'up'), `s3://${bucket}/`)
        // BH-02: an upload from stdin (no length known up front)
        await run('/bin/sh', ['-c', `"${AWS_V2}" --endpoint-url "${t.url}" s3 cp --only-show-errors - "s3://${bucket}/stdin.txt" < small.txt`], env, dir)

        const ls = await aws('s3', 'ls', '--recursive', `s3://${bucket}/`)
        const listed = ls.stdout
          .trim()
          .split('\n')
          .map((line) => {
            const m = /^\S+ \S+\s+(\d+) (.*)$/.exec(line)
            return m ? [m[2], Number(m[1])] : [line, -1]
          })
          .sort()
        expect(listed).toEqual([
          ['big.bin', big.length],
          [SMALL_KEY, small.length],
          ['stdin.txt', small.length],
        ].sort())

        await aws('s3', 'cp', '--only-show-errors', '--recursive', `s3://${bucket}/`, join(dir, 'down'))
        expect((await readFile(join(dir, 'down', 'big.bin'))).equals(big)).toBe(true)
        expect((await readFile(join(dir, 'down', 'dir', 'small file+1%.txt'))).equals(small)).toBe(true)
        expect((await readFile(join(dir, 'down', 'stdin.txt'))).equals(small)).toBe(true)
        // rm --recursive is one DeleteObjects with this client's integrity header (BH-13)
        await aws('s3', 'rm', '--only-show-errors', '--recursive', `s3://${bucket}/`)
        // rb refuses a bucket that is not empty (BucketNotEmpty), so its success shows rm removed everything
        await aws('s3', 'rb', `s3://${bucket}`)
        const s3 = t.client()
        expect((await sdkError(s3.send(new HeadBucketCommand({ Bucket: bucket })))).status).toBe(404)
        s3.destroy()
      })

      for (const python of pythons) {
        it.skipIf(!haveDebianBoto3 && python === debianPython)(`boto3 via ${python.label}, ${setting.name}: bucket, put, upload_file, list, get, conditions, delete_objects (BH-12, BH-32, BH-33, BH-39)`, async () => {
          const dir = await workdir(`boto3-${python.boto3}-${setting.name}`)
          const env = awsClientEnv(t, dir, setting.env)
          const bucket = t.bucketName('boto3')
          const args = JSON.stringify({ endpoint: t.url, accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey, bucket, workdir: dir })
          const { stdout } = await run(python.executable, [SCENARIO, args], env, dir)
          const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown> & {
            listed: [string, number, string][]
            headBig: { ContentLength: number; ETag: string }
            headSmall: { ContentType: string; Metadata: Record<string, string>; ETag: string }
            putETag: string
            putChecksums: Record<string, string>
            ranged: { ContentRange: string; length: number }
          }
          expect(out.boto3).toBe(python.boto3)
          expect(out.putETag).toMatch(ETAG)
          expect(out.listed.map(([key, size]) => [key, size])).toEqual([
            ['big.bin', big.length],
            [SMALL_KEY, small.length],
          ])
          for (const [, , etag] of out.listed) expect(etag).toMatch(ETAG)
          expect(out.listed[1]![2]).toBe(out.putETag)
          expect(out.headBig).toEqual({ ContentLength: big.length, ETag: out.listed[0]![2] })
          expect(out.headSmall).toEqual({ ContentType: 'text/plain', Metadata: { k: 'v' }, ETag: out.putETag })
          expect(out.ranged).toEqual({ ContentRange: `bytes 100-199/${big.length}`, length: 100 })
          expect((await readFile(join(dir, 'big.out'))).equals(big)).toBe(true)
          expect((await readFile(join(dir, 'small.out'))).equals(small)).toBe(true)
          if (out.ifNoneMatch !== 'unsupported-by-client') expect(out.ifNoneMatch).toBe('PreconditionFailed')
          expect(out.badMd5).toBe('BadDigest')
          expect(out.headMissing).toBe('404')
          expect(out.getMissing).toBe('NoSuchKey')
          expect(out.deletedVerbose).toEqual(['dir/small file+1%.txt', 'missing'].sort())
          expect(out.errorsVerbose).toEqual([])
          expect(out.deletedQuiet).toEqual([])
          expect(out.errorsQuiet).toEqual([])
          expect(out.left).toBe(0)
          expect(out.bucketGone).toBe('404')
        })
      }
    }
  })
}
