/**
 * The admin commands as an operator runs them (`bin/s3veil.js user …` / `key …` on a temp config
 * file), then a real gateway process started on that same file: a key made by `key create` works
 * with the AWS SDK, `key revoke` and `user disable` turn keys into InvalidAccessKeyId after a
 * restart, `user list` never prints a secret, and a rejected edit leaves the file as it was.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { FULL_ACCESS_POLICY, sdkError } from './support.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function s3veil(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [join(REPO_ROOT, 'bin/s3veil.js'), ...args], { cwd: REPO_ROOT }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

function parseKey(stdout: string): { id: string; secret: string } {
  const id = /aws_access_key_id = (\S+)/.exec(stdout)?.[1]
  const secret = /aws_secret_access_key = (\S+)/.exec(stdout)?.[1]
  if (!id || !secret) throw new Error(`no credentials in:\n${stdout}`)
  return { id, secret }
}

function client(url: string, key: { id: string; secret: string }): S3Client {
  return new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
  })
}

let dir: string
let file: string
let gw: GatewayProcess | undefined

/**
 * The helper writes a copy of `config` (it also reads its first user's key id); the trailing
 * `--config` wins in the gateway's argument parsing, so the process really runs on the file the
 * commands edited.
 */
async function startOnFile(): Promise<GatewayProcess> {
  const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  await mkdir(join(dir, 'gw'), { recursive: true, mode: 0o700 })
  return startGateway({ config, dataDir: join(dir, 'gw'), args: ['--config', file] })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 's3veil-admin-cli-'))
  file = join(dir, 'gateway.json')
  await writeFile(join(dir, 'master.key'), randomBytes(32).toString('base64') + '\n', { mode: 0o600 })
  const config = {
    storage: { type: 'disk', dataDir: join(dir, 'data') },
    keyring: { current: 'k1', keys: [{ id: 'k1', key: { file: join(dir, 'master.key') } }] },
    policies: { 'full-access': FULL_ACCESS_POLICY },
    logLevel: 'info',
  }
  await writeFile(file, JSON.stringify(config, null, 2), { mode: 0o600 })
})

afterAll(async () => {
  await gw?.stop()
})

describe('s3veil user / key', () => {
  const created: { alice?: { id: string; secret: string }; bob?: { id: string; secret: string } } = {}

  it('adds users and creates keys, storing secrets outside the config', async () => {
    const add = await s3veil('user', 'add', 'alice', '--group', 'staff', '--group', 'ops',
      '--policy', 'full-access', '--config', file)
    expect(add.stderr).toContain('added user "alice"')
    expect(add.code).toBe(0)
    expect((await s3veil('user', 'add', 'bob', '--policy', 'full-access', '--config', file)).code).toBe(0)

    const alice = await s3veil('key', 'create', 'alice', '--config', file)
    expect(alice.code).toBe(0)
    created.alice = parseKey(alice.stdout)
    expect(alice.stdout).toContain(`access key id:     ${created.alice.id}`)
    expect(alice.stdout).toContain(`secret access key: ${created.alice.secret}`)
    expect(alice.stdout).toContain('[alice]\n')
    expect(alice.stderr).not.toContain(created.alice.secret)
    expect(created.alice.id).toMatch(/^[A-Z0-9]{20}$/)
    expect(created.alice.secret).toHaveLength(40)
    created.bob = parseKey((await s3veil('key', 'create', 'bob', '--config', file)).stdout)

    const text = await readFile(file, 'utf8')
    expect(text).not.toContain(created.alice.secret)
    expect(text).not.toContain(created.bob.secret)
    const secretFile = join(dir, 'secrets', created.alice.id)
    expect((await readFile(secretFile, 'utf8')).trim()).toBe(created.alice.secret)
    expect((await stat(secretFile)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'secrets'))).mode & 0o777).toBe(0o700)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('lists users, groups, policies and key ids, never a secret', async () => {
    const list = await s3veil('user', 'list', '--config', file)
    expect(list.code).toBe(0)
    expect(list.stdout).toContain('alice  groups: staff, ops  policies: full-access')
    expect(list.stdout).toContain(`  ${created.alice!.id}  enabled`)
    expect(list.stdout).toContain(`  ${created.bob!.id}  enabled`)
    const json = await s3veil('user', 'list', '--json', '--config', file)
    expect(JSON.parse(json.stdout)[1]).toEqual({
      name: 'bob',
      groups: [],
      policies: ['full-access'],
      accessKeys: [{ id: created.bob!.id, disabled: false }],
    })
    for (const out of [list.stdout + list.stderr, json.stdout + json.stderr]) {
      expect(out).not.toContain(created.alice!.secret)
      expect(out).not.toContain(created.bob!.secret)
    }
  })

  it('refuses bad edits and leaves the file as it was', async () => {
    const before = await readFile(file, 'utf8')
    const unknownPolicy = await s3veil('user', 'add', 'carol', '--policy', 'nope', '--config', file)
    expect(unknownPolicy.code).toBe(1)
    expect(unknownPolicy.stderr).toMatch(/no policy named "nope"/)
    expect((await s3veil('user', 'add', 'alice', '--config', file)).stderr).toMatch(/already exists/)
    expect((await s3veil('key', 'revoke', 'NOSUCHKEY', '--config', file)).stderr).toMatch(/no access key with id/)
    expect((await s3veil('key', 'create', 'alice')).stderr).toMatch(/needs --config/)
    expect(await readFile(file, 'utf8')).toBe(before)

    // An inline secret in a world-readable file: refused, untouched.
    const loose = join(dir, 'loose.json')
    const doc = JSON.parse(before) as { keyring: { keys: { key: unknown }[] } }
    doc.keyring.keys[0]!.key = randomBytes(32).toString('base64')
    await writeFile(loose, JSON.stringify(doc))
    await chmod(loose, 0o644)
    const refused = await s3veil('user', 'list', '--config', loose)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/holds secrets inline \(keyring\.keys\[0\]\.key\).*mode 0644/)
  })

  it('a created key works with the AWS SDK on a gateway running that config', async () => {
    gw = await startOnFile()
    const s3 = client(gw.url, created.alice!)
    await s3.send(new CreateBucketCommand({ Bucket: 'admin-cli' }))
    await s3.send(new PutObjectCommand({ Bucket: 'admin-cli', Key: 'hello.txt', Body: 'hello from a CLI-made key' }))
    const got = await s3.send(new GetObjectCommand({ Bucket: 'admin-cli', Key: 'hello.txt' }))
    expect(await got.Body!.transformToString()).toBe('hello from a CLI-made key')
    const buckets = await client(gw.url, created.bob!).send(new ListBucketsCommand({}))
    expect(buckets.Buckets?.map((b) => b.Name)).toContain('admin-cli')
    // Secrets referenced by file are not logged either.
    expect(gw.output()).not.toContain(created.alice!.secret)
    await gw.stop()
    gw = undefined
  })

  it('key revoke and user disable make keys InvalidAccessKeyId after a restart', async () => {
    const revoke = await s3veil('key', 'revoke', created.alice!.id, '--config', file)
    expect(revoke.code).toBe(0)
    expect(revoke.stderr).toContain('disabled')
    const disable = await s3veil('user', 'disable', 'bob', '--config', file)
    expect(disable.code).toBe(0)
    expect(disable.stderr).toContain(`1 access key(s) disabled (${created.bob!.id})`)
    // A fresh key for alice after the revocation still works: rotation.
    const rotated = parseKey((await s3veil('key', 'create', 'alice', '--config', file)).stdout)
    const list = (await s3veil('user', 'list', '--config', file)).stdout
    expect(list).toContain(`  ${created.alice!.id}  disabled`)
    expect(list).toContain(`  ${created.bob!.id}  disabled`)
    expect(list).toContain(`  ${rotated.id}  enabled`)

    gw = await startOnFile()
    for (const key of [created.alice!, created.bob!]) {
      const err = await sdkError(client(gw.url, key).send(new GetObjectCommand({ Bucket: 'admin-cli', Key: 'hello.txt' })))
      expect(err.name).toBe('InvalidAccessKeyId')
    }
    const got = await client(gw.url, rotated).send(new GetObjectCommand({ Bucket: 'admin-cli', Key: 'hello.txt' }))
    expect(await got.Body!.transformToString()).toBe('hello from a CLI-made key')
    await gw.stop()
    gw = undefined

    // --delete removes the entry and the secret file this tool wrote.
    expect((await s3veil('key', 'revoke', created.alice!.id, '--delete', '--config', file)).code).toBe(0)
    expect(await readFile(file, 'utf8')).not.toContain(created.alice!.id)
    await expect(stat(join(dir, 'secrets', created.alice!.id))).rejects.toThrow(/ENOENT/)
  })
})
