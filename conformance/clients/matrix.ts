/**
 * @module conformance/clients/matrix
 * The real-client matrix: one scenario, the same for every client (make a bucket, upload a small and a
 * 20 MiB file, list, download both and compare, sync a small tree up and back down, re-sync, presign a
 * GET and fetch it with curl, delete, remove the bucket). Each client file describes its client as a
 * `ClientDriver` (what command does each step) and `clientMatrix` turns it into one conformance case
 * per step, `client.<client>.<step>`. What the client did is checked independently with the SDK
 * (sizes, ETags, bytes), never by trusting the client's own exit code alone.
 */
import { execFile, execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { afterAll, beforeAll } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { bucketName, removeBucket, s3Client, target, type Target } from '../support/target.js'

export const MiB = 1024 * 1024
export const SMALL_KEY = 'small.txt'
export const BIG_KEY = 'big-20mib.bin'
export const BIG_SIZE = 20 * MiB
export const TREE_PREFIX = 'tree/'

/** The synced tree: nested directories, names with space, `+` and unicode, an empty file. */
export const TREE: [path: string, size: number][] = [
  ['top.txt', 120],
  ['empty.txt', 0],
  ['dir one/file with space.txt', 300],
  ['dir one/plus+sign+.txt', 50],
  ['dir one/nested/deeper/ünïcødé 日本語.txt', 1000],
  ['a+b/c d/e+f g.bin', 64 * 1024 + 1],
]

export interface Listed {
  key: string
  size: number
}

/** What one client does for each step; every method throws (with the client's own words) on failure. */
export interface ClientDriver {
  makeBucket(bucket: string): Promise<void>
  /** `big` is the 20 MiB file: clients that have a multipart transfer manager use it. */
  upload(file: string, bucket: string, key: string, big: boolean): Promise<void>
  list(bucket: string): Promise<Listed[]>
  download(bucket: string, key: string, file: string, big: boolean): Promise<void>
  /** Returns how many files the client says it transferred. */
  syncUp(dir: string, bucket: string, prefix: string): Promise<number>
  syncDown(bucket: string, prefix: string, dir: string): Promise<number>
  /** A presigned GET URL; `step` is one of the spec's presign steps (default settings, or a variant). */
  presign(step: string, bucket: string, key: string): Promise<string>
  deleteObject(bucket: string, key: string): Promise<void>
  deleteAll(bucket: string): Promise<void>
  removeBucket(bucket: string): Promise<void>
  /** Releases what the driver holds (an SDK client's sockets). */
  close?(): void
}

export interface ClientSpec {
  /** The id segment: `client.<name>.<step>`. */
  name: string
  /** e.g. 'aws-cli/2.9.19 (/usr/bin/aws)'; shown in the area name. */
  version: string
  /** Set when the client is not installed here: how to install it (every case then fails with it). */
  missing?: string
  /** The part size its default transfer manager uses for the 20 MiB file; undefined: one PUT. */
  partSize?: number
  /** Presign cases beyond `presign-get` (default settings), e.g. with SigV4 switched on. */
  presignVariants?: { step: string; title: string }[]
  /** Builds the driver once the work directory (a clean HOME for the client) exists. */
  driver(ctx: ClientContext): ClientDriver | Promise<ClientDriver>
}

export interface ClientContext {
  target: Target
  /** A fresh directory, the client's HOME: no ~/.aws, ~/.s3cfg or rclone config of the host. */
  home: string
}

// ---------------------------------------------------------------------------------------------
// Running tools

/** A minimal environment for a tool: nothing inherited but PATH (no AWS_*, proxies or CA variables). */
export function baseEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8', ...extra }
}

export interface ToolResult {
  stdout: string
  stderr: string
}

/**
 * Runs a program; on a non-zero exit throws an error whose first line names the program and quotes
 * its last words (the report shows that line). The target's secret is never shown.
 */
export function runTool(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; label?: string }
): Promise<ToolResult> {
  const label = options.label ?? `${file.split('/').pop()} ${args.slice(0, 2).join(' ')}`
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      // Under the step's own timeout, so a hung client is killed and reported rather than left running.
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? 100_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr })
        const code = (err as { code?: unknown }).code
        const why = err.killed ? 'timed out' : `exited ${code ?? (err as { signal?: string }).signal ?? '?'}`
        const said = summary(stderr) || summary(stdout) || err.message
        const detail = `\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`
        reject(new Error(redact(`${label} ${why}: ${said}${detail}`)))
      }
    )
  })
}

/** The last thing a tool said, and the first warning before it when there was one (often the cause). */
function summary(text: string): string {
  const last = lastLine(text)
  const lines = text.split(/[\r\n]+/).map((l) => l.trim())
  const warning = lines.find((l) => /^(WARNING|ERROR|NOTICE|Error)\b/.test(l) && l !== last)
  return warning && !/Config file .* not found/.test(warning) ? `${last} (after: ${warning.slice(0, 160)})` : last
}

function lastLine(text: string): string {
  const lines = text.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => l !== '' && !/^Completed \d/.test(l))
  return lines.at(-1)?.slice(0, 240) ?? ''
}

function tail(text: string): string {
  return text.length > 4000 ? '…' + text.slice(-4000) : text
}

/** Removes the target's secret from text that may reach the report. */
export function redact(text: string): string {
  const secret = target().secretAccessKey
  return secret ? text.split(secret).join('<secret>') : text
}

/** Runs a program for its version line; undefined when it cannot run. */
export function probe(file: string, args: string[]): string | undefined {
  try {
    const out = execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
    return out.trim() || undefined
  } catch {
    return undefined
  }
}

/** Every executable called `name` on PATH, in PATH order. */
export function onPath(name: string): string[] {
  const out: string[] = []
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const file = join(dir, name)
    try {
      if (statSync(file).isFile() && !out.includes(file)) out.push(file)
    } catch {
      // not in this directory
    }
  }
  return out
}

/** True when two paths are the same file after following links. */
export function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}

export function fileExists(file: string): boolean {
  return existsSync(file)
}

// ---------------------------------------------------------------------------------------------
// Checks with the SDK (independent of the client under test)

export function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex')
}

/** The ETag S3 gives a single-PUT object stored as it was sent: the MD5 of its bytes. */
export function md5Etag(data: Uint8Array): string {
  return `"${md5Hex(data)}"`
}

/**
 * What MD5-checking clients (s3cmd, rclone, aws-cli v1) rely on: an ETag is a quoted hex digest, and one
 * without a `-N` suffix is the MD5 of the content. A store that encrypts may give other values (this
 * gateway shows `"<md5 of ciphertext>-1"`); AWS's SSE-KMS ETags are plain non-MD5 digests, which those
 * clients only tolerate because they special-case its `x-amz-server-side-encryption: aws:kms` header.
 */
export function checkEtag(etag: string | undefined, data: Uint8Array, what: string): void {
  check(etag !== undefined && /^"[0-9a-f]{32}(-\d+)?"$/.test(etag), `${what}: ETag ${etag} is no quoted hex digest`)
  const md5 = md5Etag(data)
  if (!etag!.includes('-')) check(etag === md5, `${what}: ETag ${etag} looks like an MD5 but is not the content's (${md5})`)
}

async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ hex: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of stream) {
    hash.update(chunk)
    size += chunk.length
  }
  return { hex: hash.digest('hex'), size }
}

async function fileSha256(file: string): Promise<{ hex: string; size: number }> {
  return sha256Of(createReadStream(file))
}

export interface ListedObject {
  size: number
  etag: string
  modified: number
}

/** Every key under `prefix` with its size, ETag and LastModified, as the target lists them. */
export async function sdkList(s3: S3Client, bucket: string, prefix = ''): Promise<Map<string, ListedObject>> {
  const out = new Map<string, ListedObject>()
  let token: string | undefined
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
    for (const o of page.Contents ?? []) {
      out.set(o.Key!, { size: o.Size ?? -1, etag: o.ETag ?? '', modified: o.LastModified?.getTime() ?? 0 })
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return out
}

/** Aborts every unfinished multipart upload in the bucket (best effort). */
async function abortUploads(s3: S3Client, bucket: string): Promise<void> {
  try {
    const { Uploads } = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    for (const u of Uploads ?? []) {
      const abort = new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId })
      await s3.send(abort).catch(() => {})
    }
  } catch {
    // the step's own failure is what gets reported
  }
}

async function httpStatusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise
    return 200
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1
  }
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message)
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

// ---------------------------------------------------------------------------------------------
// The scenario

interface Fixtures {
  work: string
  small: Buffer
  smallFile: string
  bigFile: string
  big: Buffer
  bigSha256: string
  treeDir: string
  downDir: string
}

async function makeFixtures(work: string): Promise<Fixtures> {
  const small = Buffer.from(`s3veil conformance small object ${randomBytes(12).toString('hex')}\n`.repeat(30))
  const big = randomBytes(BIG_SIZE)
  const smallFile = join(work, 'up', SMALL_KEY)
  const bigFile = join(work, 'up', BIG_KEY)
  const treeDir = join(work, 'tree')
  await mkdir(join(work, 'up'), { recursive: true })
  await writeFile(smallFile, small)
  await writeFile(bigFile, big)
  for (const [path, size] of TREE) {
    const file = join(treeDir, path)
    await mkdir(dirname(file), { recursive: true })
    const text = Buffer.from(randomBytes(size).toString('base64').slice(0, size))
    await writeFile(file, path.endsWith('.txt') ? text : randomBytes(size))
  }
  const bigSha256 = createHash('sha256').update(big).digest('hex')
  return { work, small, smallFile, big, bigFile, bigSha256, treeDir, downDir: join(work, 'tree-down') }
}

/** `diff -r` of two directories: empty when equal, else what differs. */
async function diffTrees(a: string, b: string): Promise<string> {
  try {
    await runTool('diff', ['-r', a, b], { env: baseEnv(tmpdir()), label: 'diff -r' })
    return ''
  } catch (err) {
    return (err as Error).message.split('\n')[0]!
  }
}

/** Fetches a URL with curl (trusting the target's CA bundle); the body lands in `file`. */
async function curlGet(url: string, file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const ca = target().caBundle
  const args = ['-sS', '-o', file, '-w', '%{http_code}', ...(ca ? ['--cacert', ca] : []), url]
  const { stdout } = await runTool('curl', args, { env, label: 'curl' })
  return Number(stdout.trim())
}

/** The `<Code>` and `<Message>` of an S3 error document, for a one-line reason. */
function s3ErrorSummary(body: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1]
  return code ? `${code}${message ? ': ' + message : ''}` : body.slice(0, 120)
}

/**
 * Registers the scenario for one client: an area `client <name> (<version>)` with one case per step,
 * `client.<name>.<step>`, run in order. A step whose prerequisite failed fails at once, naming that
 * step, so one fault shows where it is; a failed upload is replaced by the SDK's (`ensureObjects`).
 */
export function clientMatrix(spec: ClientSpec): void {
  area(`client ${spec.name} (${spec.version})`, () => {
    let t: Target
    let s3: S3Client
    let bucket: string
    let fx: Fixtures
    let driver: ClientDriver | undefined
    let syncedAt = 0
    const failed = new Set<string>()

    beforeAll(async () => {
      t = target()
      // The checker reads state; a retry of a read on a reused socket the server just closed is no finding.
      s3 = s3Client({ maxAttempts: 3 })
      bucket = bucketName(`cli-${spec.name}`)
      const work = await mkdtemp(join(tmpdir(), `s3veil-conf-${spec.name}-`))
      fx = await makeFixtures(work)
      if (spec.missing === undefined) {
        const home = join(work, 'home')
        await mkdir(home, { recursive: true })
        driver = await spec.driver({ target: t, home })
      }
    }, 120_000)

    afterAll(async () => {
      // The scenario removes its bucket itself; after a failure the leftovers go here.
      if (bucket && s3) await removeBucket(s3, bucket)
      s3?.destroy()
      driver?.close?.()
      if (fx) await rm(fx.work, { recursive: true, force: true })
    }, 120_000)

    type Run = (d: ClientDriver) => Promise<void>
    function step(name: string, title: string, needs: string[], run: Run, timeoutMs = 120_000): void {
      conformanceCase(
        `client.${spec.name}.${name}`,
        title,
        async () => {
          if (spec.missing !== undefined || !driver) {
            failed.add(name)
            throw new Error(`${spec.name} is not installed here: ${spec.missing ?? 'set-up failed'}`)
          }
          const blocked = needs.find((n) => failed.has(n))
          if (blocked) {
            failed.add(name)
            throw new Error(`not run: it needs step ${blocked}, which failed`)
          }
          // Failed until it succeeds: a step that times out blocks the steps that need it too.
          failed.add(name)
          await run(driver)
          failed.delete(name)
        },
        timeoutMs
      )
    }

    step('make-bucket', 'the client creates a bucket', [], async (d) => {
      await d.makeBucket(bucket)
      const status = await httpStatusOf(s3.send(new HeadBucketCommand({ Bucket: bucket })))
      check(status === 200, `HeadBucket after make-bucket answered ${status}`)
    })

    step('upload-small', 'upload a small file; the target holds its bytes, ETag sound', ['make-bucket'], async (d) => {
      await d.upload(fx.smallFile, bucket, SMALL_KEY, false)
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: SMALL_KEY }))
      const body = Buffer.from(await got.Body!.transformToByteArray())
      check(body.equals(fx.small), `stored object differs: ${body.length} bytes, want ${fx.small.length}`)
      checkEtag(got.ETag, fx.small, SMALL_KEY)
    })

    const bigHow = spec.partSize ? `multipart, ${spec.partSize / MiB} MiB parts` : 'one PUT'
    const bigTitle = `upload a 20 MiB file (${bigHow} by default); size, bytes and ETag sound`
    step('upload-20mib', bigTitle, ['make-bucket'], async (d) => {
      try {
        await d.upload(fx.bigFile, bucket, BIG_KEY, true)
      } catch (err) {
        // A client that gives up mid-multipart leaves its upload open; it would keep the bucket from going.
        await abortUploads(s3, bucket)
        throw err
      }
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: BIG_KEY }))
      check(head.ContentLength === BIG_SIZE, `ContentLength ${head.ContentLength}, want ${BIG_SIZE}`)
      checkEtag(head.ETag, fx.big, BIG_KEY)
      // A multipart object's ETag ends in -N with N ≥ 2 parts, whatever the store does to part ETags.
      const parts = Number(/-(\d+)"$/.exec(head.ETag ?? '')?.[1] ?? 1)
      if (spec.partSize) check(parts >= 2, `ETag ${head.ETag}: not multipart, but the client uploads ${bigHow}`)
      else check(parts === 1, `ETag ${head.ETag}: multipart, but the client uploads with ${bigHow}`)
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: BIG_KEY }))
      const { hex, size } = await sha256Of(got.Body as AsyncIterable<Uint8Array>)
      check(size === BIG_SIZE && hex === fx.bigSha256, `stored bytes differ (${size} bytes)`)
    })

    /**
     * When the client's own upload failed, the object is put with the SDK instead, so the steps that
     * read it (list, downloads, presign) still measure the client's reading, not the earlier failure.
     */
    async function ensureObjects(): Promise<void> {
      if (failed.has('upload-small')) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: SMALL_KEY, Body: fx.small }))
      }
      if (failed.has('upload-20mib')) {
        const params = { Bucket: bucket, Key: BIG_KEY, Body: fx.big }
        await new Upload({ client: s3, params, partSize: 8 * MiB }).done()
      }
      // the objects are there now: the steps after this one need not stop
      failed.delete('upload-small')
      failed.delete('upload-20mib')
    }

    step('list', 'the client lists both objects with their sizes', ['make-bucket'], async (d) => {
      await ensureObjects()
      const listed = (await d.list(bucket)).sort((a, b) => a.key.localeCompare(b.key))
      const want = [
        { key: BIG_KEY, size: BIG_SIZE },
        { key: SMALL_KEY, size: fx.small.length },
      ]
      check(same(listed, want), `listed ${JSON.stringify(listed)}, want ${JSON.stringify(want)}`)
    })

    step('download-small', 'download the small file; bytes equal', ['make-bucket'], async (d) => {
      await ensureObjects()
      const out = join(fx.work, 'down-small.txt')
      await d.download(bucket, SMALL_KEY, out, false)
      const got = await readFile(out)
      check(got.equals(fx.small), `downloaded ${got.length} bytes that differ from the ${fx.small.length} uploaded`)
    })

    step('download-20mib', 'download the 20 MiB file; bytes equal', ['make-bucket'], async (d) => {
      await ensureObjects()
      const out = join(fx.work, 'down-big.bin')
      await d.download(bucket, BIG_KEY, out, true)
      const got = await fileSha256(out)
      check(got.size === BIG_SIZE && got.hex === fx.bigSha256, `downloaded ${got.size} bytes that differ from the uploaded ones`)
    })

    const syncTitle = 'sync a tree (nested, space, +, unicode, empty file) up; keys, sizes and ETags right'
    step('sync-up', syncTitle, ['make-bucket'], async (d) => {
      const count = await d.syncUp(fx.treeDir, bucket, TREE_PREFIX)
      syncedAt = Date.now()
      const listed = await sdkList(s3, bucket, TREE_PREFIX)
      const keys = [...listed.keys()].sort()
      const want = TREE.map(([p]) => TREE_PREFIX + p).sort()
      check(same(keys, want), `keys ${JSON.stringify(keys)}, want ${JSON.stringify(want)}`)
      for (const [path, size] of TREE) {
        const entry = listed.get(TREE_PREFIX + path)!
        const data = await readFile(join(fx.treeDir, path))
        check(entry.size === size, `${path}: listed size ${entry.size}, want ${size}`)
        checkEtag(entry.etag, data, path)
      }
      check(count === TREE.length, `the client reported ${count} uploads, want ${TREE.length}`)
    })

    step('sync-down', 'sync the tree back down to a fresh directory; diff -r equal', ['sync-up'], async (d) => {
      const count = await d.syncDown(bucket, TREE_PREFIX, fx.downDir)
      const diff = await diffTrees(fx.treeDir, fx.downDir)
      check(diff === '', `trees differ: ${diff}`)
      check(count === TREE.length, `the client reported ${count} downloads, want ${TREE.length}`)
    })

    const resyncTitle = 'sync again both ways: nothing is transferred, nothing changes'
    step('resync-nothing', resyncTitle, ['sync-up', 'sync-down'], async (d) => {
      // LastModified has 1 s resolution: wait so that a rewrite would show
      const wait = syncedAt + 1100 - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      const before = await sdkList(s3, bucket, TREE_PREFIX)
      const up = await d.syncUp(fx.treeDir, bucket, TREE_PREFIX)
      const down = await d.syncDown(bucket, TREE_PREFIX, fx.downDir)
      const after = await sdkList(s3, bucket, TREE_PREFIX)
      check(up === 0, `re-sync up transferred ${up} files, want 0`)
      check(down === 0, `re-sync down transferred ${down} files, want 0`)
      check(same([...before], [...after]), 'objects changed (LastModified/ETag) during the re-sync')
      const diff = await diffTrees(fx.treeDir, fx.downDir)
      check(diff === '', `trees differ after the re-sync: ${diff}`)
    })

    const presignSteps = [
      { step: 'presign-get', title: 'presign a GET at default settings; curl fetches the object' },
      ...(spec.presignVariants ?? []),
    ]
    for (const p of presignSteps) {
      step(p.step, p.title, ['make-bucket'], async (d) => {
        await ensureObjects()
        const url = (await d.presign(p.step, bucket, SMALL_KEY)).trim()
        check(/^https?:\/\//.test(url), `the client printed no URL: ${url.slice(0, 80)}`)
        const out = join(fx.work, `${p.step}.out`)
        const status = await curlGet(url, out, baseEnv(fx.work))
        const body = existsSync(out) ? await readFile(out) : Buffer.alloc(0)
        const why = s3ErrorSummary(body.toString('utf8'))
        check(status === 200, `curl got HTTP ${status} for the presigned URL: ${why}`)
        check(body.equals(fx.small), `curl got ${body.length} bytes that differ from the object`)
      }, 60_000)
    }

    const deleteTitle = 'delete one object, then all (recursive); the bucket is empty'
    step('delete-objects', deleteTitle, ['make-bucket'], async (d) => {
      await d.deleteObject(bucket, SMALL_KEY)
      const status = await httpStatusOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: SMALL_KEY })))
      check(status === 404, `HEAD of the deleted object answered ${status}, want 404`)
      await d.deleteAll(bucket)
      const left = await sdkList(s3, bucket)
      check(left.size === 0, `${left.size} objects left: ${[...left.keys()].slice(0, 5).join(', ')}`)
    })

    step('remove-bucket', 'remove the empty bucket; HeadBucket then answers 404', ['delete-objects'], async (d) => {
      await d.removeBucket(bucket)
      const status = await httpStatusOf(s3.send(new HeadBucketCommand({ Bucket: bucket })))
      check(status === 404, `HeadBucket after remove-bucket answered ${status}, want 404`)
    })
  })
}
