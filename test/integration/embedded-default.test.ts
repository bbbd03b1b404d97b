/**
 * The embedded default as a new user meets it (issue 2, item 1): a fresh data directory and no config.
 * The gateway must generate a 0600 development master key with a loud warning, a development user
 * written as an AWS shared-credentials file, and then serve README's aws-cli session exactly as
 * printed. A restart on the same directory keeps the key and the user, so objects stay readable.
 */
import { execFile, spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { probe, requireTool, sdkClient } from './support.js'

const AWS = '/usr/bin/aws'
const awsVersion = probe(AWS, ['--version'])
const haveAwsV2 = requireTool('aws-cli v2 at /usr/bin/aws', awsVersion?.startsWith('aws-cli/2.') ?? false, 'apt-get install awscli')

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...options, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

/** Every object file the disk store holds for a bucket. */
function storedFiles(dataDir: string, bucket: string): string[] {
  const root = join(dataDir, 'buckets', bucket, 'objects')
  return readdirSync(root).flatMap((shard) => readdirSync(join(root, shard)).map((name) => join(root, shard, name)))
}

describe('embedded default: fresh data dir, no config', () => {
  let dataDir: string
  let gw: GatewayProcess
  const work: string[] = []

  beforeAll(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 's3veil-embedded-')), 'data')
    gw = await startGateway({ dataDir })
  })

  afterAll(async () => {
    await gw?.stop()
    for (const dir of work) await rm(dir, { recursive: true, force: true })
  })

  it('generates a development master key with mode 0600 and warns loudly that it is one', async () => {
    const key = await stat(join(dataDir, 'dev-master.key'))
    expect(key.mode & 0o777).toBe(0o600)
    const material = Buffer.from((await readFile(join(dataDir, 'dev-master.key'), 'utf8')).trim(), 'base64')
    expect(material.length).toBe(32)
    const warning = gw
      .output()
      .split('\n')
      .find((line) => line.includes('DEVELOPMENT MASTER KEY'))
    expect(warning, gw.output()).toBeDefined()
    expect(JSON.parse(warning!).level).toBeGreaterThanOrEqual(40) // pino warn or louder
  })

  it('writes the development user as an AWS shared-credentials file (profile s3veil, mode 0600) and prints it', async () => {
    const file = join(dataDir, 'aws-credentials')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const text = await readFile(file, 'utf8')
    expect(text).toContain('[s3veil]')
    expect(text).toContain(`aws_access_key_id = ${gw.accessKeyId}`)
    expect(text).toContain(`aws_secret_access_key = ${gw.secretAccessKey}`)
    expect(gw.output()).toContain(gw.accessKeyId)
    expect(gw.output()).toContain(file)
  })

  it.skipIf(!haveAwsV2)("README's aws-cli session works as printed: mb, cp up, ls, cp down + cmp, rm, rb", async () => {
    const cwd = await mkdtemp(join(tmpdir(), 's3veil-session-'))
    work.push(cwd)
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: cwd,
      AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'aws-credentials'),
      AWS_CONFIG_FILE: join(cwd, 'no-such-config'),
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
    }
    const aws = (...args: string[]) => run(AWS, ['--profile', 's3veil', '--endpoint-url', gw.url, ...args], { env, cwd })
    const readme = join(REPO_ROOT, 'README.md')
    const original = await readFile(readme)

    await aws('s3', 'mb', 's3://demo')
    await aws('s3', 'cp', '--only-show-errors', readme, 's3://demo/')
    const ls = await aws('s3', 'ls', 's3://demo/')
    const line = ls.stdout.split('\n').find((l) => l.endsWith(' README.md'))
    expect(line, ls.stdout).toBeDefined()
    expect(line!.trim().split(/\s+/)[2]).toBe(String(original.length))

    await aws('s3', 'cp', '--only-show-errors', 's3://demo/README.md', join(cwd, 'back.md'))
    expect((await readFile(join(cwd, 'back.md'))).equals(original)).toBe(true)

    // "The object on disk (s3veil-data/buckets/demo/objects/…) is ciphertext."
    const files = storedFiles(dataDir, 'demo')
    expect(files).toHaveLength(1)
    const stored = await readFile(files[0]!)
    expect(stored.includes(original.subarray(0, 64))).toBe(false)
    expect(stored.includes(Buffer.from('S3-compatible encrypting gateway'))).toBe(false)

    await aws('s3', 'rm', 's3://demo/README.md')
    expect((await aws('s3', 'ls', 's3://demo/')).stdout.trim()).toBe('')
    await aws('s3', 'rb', 's3://demo')
    const buckets = await aws('s3', 'ls')
    expect(buckets.stdout).not.toMatch(/\bdemo\b/)
  })

  it('a restart on the same data dir keeps the master key and the user, so objects stay readable', async () => {
    const keyBefore = await readFile(join(dataDir, 'dev-master.key'), 'utf8')
    const body = Buffer.from('written before the restart, read after it\n'.repeat(5000))
    let s3 = sdkClient(gw.url, gw)
    await s3.send(new CreateBucketCommand({ Bucket: 'keep' }))
    await s3.send(new PutObjectCommand({ Bucket: 'keep', Key: 'k.txt', Body: body, ContentType: 'text/plain' }))
    const before = await s3.send(new HeadObjectCommand({ Bucket: 'keep', Key: 'k.txt' }))
    s3.destroy()
    const creds = { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey }

    await gw.stop()
    gw = await startGateway({ dataDir })
    expect(await readFile(join(dataDir, 'dev-master.key'), 'utf8')).toBe(keyBefore)
    expect({ accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey }).toEqual(creds)

    s3 = sdkClient(gw.url, creds)
    const got = await s3.send(new GetObjectCommand({ Bucket: 'keep', Key: 'k.txt' }))
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true)
    expect(got.ETag).toBe(before.ETag)
    expect(got.ContentType).toBe('text/plain')
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'keep' }))
    expect(list.Contents?.map((o) => [o.Key, o.Size])).toEqual([['k.txt', body.length]])
    s3.destroy()
  })

  it('--help documents host, port, data dir, config and log level with their environment variables', async () => {
    const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'bin/s3veil.js'), '--help'], { cwd: REPO_ROOT })
    for (const text of ['--host', '--port', '--data-dir', '--config', '--log-level', 'S3VEIL_HOST', 'S3VEIL_PORT', 'S3VEIL_DATA_DIR', 'S3VEIL_CONFIG', 'S3VEIL_LOG_LEVEL']) {
      expect(stdout).toContain(text)
    }
  })

  it('takes host, port and data dir from S3VEIL_HOST / S3VEIL_PORT / S3VEIL_DATA_DIR', async () => {
    const other = await mkdtemp(join(tmpdir(), 's3veil-env-'))
    work.push(other)
    const envDir = join(other, 'env-data')
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/s3veil.js')], {
      cwd: other,
      env: { ...process.env, S3VEIL_HOST: '127.0.0.1', S3VEIL_PORT: '0', S3VEIL_DATA_DIR: envDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let out = ''
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 30_000)
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)
          if (m) {
            clearTimeout(timer)
            resolve(m[1]!)
          }
        })
        child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)))
      })
      expect(url).not.toBe('http://127.0.0.1:7070')
      expect((await fetch(url + '/-/healthz')).status).toBe(200)
      expect((await stat(join(envDir, 'dev-master.key'))).mode & 0o777).toBe(0o600)
      expect((await stat(join(envDir, 'aws-credentials'))).isFile()).toBe(true)
    } finally {
      const exited = new Promise((done) => child.once('exit', done))
      child.kill('SIGTERM')
      await exited
    }
  })
})
