/**
 * Credential custody (issue 5): secrets come inline, from the environment or from files; a config file
 * holding inline secrets that group or others can read, or a secret file they can write, is refused at
 * startup (a secret file they can only read is warned about); and
 * the bad paths — wrong upstream credentials, a bad key, broken JSON next to a secret, missing
 * references, /-/metrics, --help — never print a secret, in the output or in a response.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../src/auth/password.js'
import { REPO_ROOT, startGateway } from '../helpers/gateway.js'
import { secretForms } from '../helpers/leaks.js'
import { rgwForTests } from '../helpers/rgw.js'
import { gatewayConfig, objectPath, rawRequest, sdkClient, sdkError, uniqueBucket } from './support.js'

const rgw = await rgwForTests()

interface Run {
  code: number
  output: string
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const options = { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 30_000 }
    execFile(process.execPath, [join(REPO_ROOT, 'bin/s3veil.js'), ...args], options, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, output: stdout + stderr })
    })
  })
}

/** `serve` with this config text in a file of this mode; it is expected to exit (startup refused). */
async function serveWith(text: string, mode: number, env: Record<string, string> = {}): Promise<Run & { file: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 's3veil-custody-'))
  const file = join(dir, 'config.json')
  await writeFile(file, text)
  await chmod(file, mode)
  const result = await run(['serve', '--config', file, '--port', '0', '--data-dir', join(dir, 'data')], env)
  return { ...result, file, dir }
}

function expectNoSecret(text: string, ...secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of secretForms(secret)) expect(text, 'a secret was printed').not.toContain(form)
  }
}

const masterKey = () => randomBytes(32).toString('base64')

describe('config and secret file permissions', () => {
  it('a config file with inline secrets readable by others is refused, naming the file, its mode and the fix', async () => {
    const config = gatewayConfig({ type: 'disk' })
    const { code, output, file } = await serveWith(JSON.stringify(config, null, 2), 0o644)
    expect(code).toBe(1)
    expect(output).toContain(`${file} holds secrets inline (keyring.keys[0].key, users[0].accessKeys[0].secret)`)
    expect(output).toContain('(mode 0644): chmod 600 it')
    expectNoSecret(output, config.keyring.keys[0]!.key, config.users[0]!.accessKeys[0]!.secret)
  })

  it('a referenced secret file others can write is refused; one they can read (a container mount) is warned about', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3veil-custody-'))
    const keyFile = join(dir, 'master.key')
    const key = masterKey()
    await writeFile(keyFile, key + '\n', { mode: 0o620 })
    await chmod(keyFile, 0o620)
    const config = { keyring: { keys: [{ id: 'k1', key: { file: keyFile } }] } }
    const refused = await serveWith(JSON.stringify(config), 0o644)
    expect(refused.code).toBe(1)
    expect(refused.output).toContain(`keyring key k1: secret file ${keyFile} is writable by group or others (mode 0620): chmod 600 it`)
    expectNoSecret(refused.output, key)

    // Docker and Kubernetes mount secrets 0444/0644 by default: served, with a warning.
    await chmod(keyFile, 0o644)
    const gw = await startGateway({ config, dataDir: dir, configMode: 0o644 })
    try {
      expect((await fetch(gw.url + '/-/readyz')).status).toBe(200)
      expect(gw.output()).toContain('keyring key k1: secret file is readable by group or others')
      expectNoSecret(gw.output(), key)
    } finally {
      await gw.stop()
    }
  })
})

describe('every secret setting takes a value, {"env": NAME} or {"file": path}', () => {
  it.skipIf(!rgw)('upstream keys and user secret from env, master key and password hash from files: the gateway works', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3veil-custody-'))
    const write = async (name: string, value: string) => {
      const path = join(dir, name)
      await writeFile(path, value + '\n', { mode: 0o600 })
      return path
    }
    const userSecret = randomBytes(30).toString('base64')
    const password = 'pw-' + randomBytes(12).toString('hex')
    const env = {
      S3VEIL_T_UP_ID: rgw!.accessKeyId,
      S3VEIL_T_UP_SECRET: rgw!.secretAccessKey,
      S3VEIL_T_USER_SECRET: userSecret,
      S3VEIL_T_TOKEN: randomBytes(16).toString('hex'),
    }
    const accessKeyId = 'AKENV' + randomBytes(6).toString('hex').toUpperCase()
    const config = {
      storage: {
        type: 's3',
        endpoint: rgw!.endpoint,
        region: rgw!.region,
        accessKeyId: { env: 'S3VEIL_T_UP_ID' },
        secretAccessKey: { env: 'S3VEIL_T_UP_SECRET' },
      },
      keyring: { keys: [{ id: 'k1', key: { file: await write('master.key', masterKey()) } }] },
      users: [
        {
          name: 'eve',
          accessKeys: [{ id: accessKeyId, secret: { env: 'S3VEIL_T_USER_SECRET' } }],
          password: { file: await write('eve.hash', await hashPassword(password)) },
          policies: ['all'],
        },
      ],
      policies: { all: { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } },
      basicAuth: { enabled: true },
      ops: { metricsToken: { env: 'S3VEIL_T_TOKEN' } },
    }
    const gw = await startGateway({ config, env, dataDir: dir })
    try {
      const client = sdkClient(gw.url, { accessKeyId, secretAccessKey: userSecret })
      const bucket = uniqueBucket('custody')
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'hello' }))
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }))
      expect(await got.Body!.transformToString()).toBe('hello')
      client.destroy()
      const url = new URL(gw.url)
      const basic = await rawRequest(
        { host: url.hostname, port: Number(url.port) },
        { method: 'GET', path: objectPath(bucket, 'k'), headers: { authorization: 'Basic ' + Buffer.from(`eve:${password}`).toString('base64') } }
      )
      expect(basic.status).toBe(200)
      expect(basic.body.toString()).toBe('hello')
      const metrics = await fetch(gw.url + '/-/metrics', { headers: { authorization: `Bearer ${env.S3VEIL_T_TOKEN}` } })
      expect(metrics.status).toBe(200)
      const page = await metrics.text()
      expectNoSecret(page + gw.output(), rgw!.secretAccessKey, userSecret, password, env.S3VEIL_T_TOKEN)
      expect(page).not.toContain(bucket)
    } finally {
      await gw.stop()
    }
  })

  it('a missing environment variable or secret file is named, and startup stops', async () => {
    const byEnv = await serveWith(JSON.stringify({ keyring: { keys: [{ id: 'k1', key: { env: 'S3VEIL_T_NOT_SET' } }] } }), 0o600)
    expect(byEnv.code).toBe(1)
    expect(byEnv.output).toContain('keyring key k1: environment variable S3VEIL_T_NOT_SET is not set')
    const byFile = await serveWith(JSON.stringify({ keyring: { keys: [{ id: 'k1', key: { file: '/nonexistent/master.key' } }] } }), 0o600)
    expect(byFile.code).toBe(1)
    expect(byFile.output).toContain('keyring key k1: cannot read secret file /nonexistent/master.key (ENOENT)')
  })
})

describe('bad paths print no secret', () => {
  it('a master key of the wrong length names its key id, not its value', async () => {
    const good = masterKey()
    const short = randomBytes(16).toString('base64')
    const config = { keyring: { current: 'k1', keys: [{ id: 'k1', key: good }, { id: 'k2-short', key: short }] } }
    const { code, output } = await serveWith(JSON.stringify(config), 0o600)
    expect(code).toBe(1)
    expect(output).toContain('keyring key k2-short: must be 32 bytes, base64-encoded')
    expectNoSecret(output, good, short)
  })

  it('a JSON syntax error next to an inline secret shows where, not the text around it', async () => {
    const secret = randomBytes(30).toString('base64')
    const text = `{\n  "keyring": { "keys": [ { "id": "k1", "key": "${secret}" } ] }\n  "logLevel": "info"\n}\n`
    const { code, output } = await serveWith(text, 0o600)
    expect(code).toBe(1)
    expect(output).toMatch(/config\.json:3:\d+: config: not valid JSON/)
    expectNoSecret(output, secret)
  })

  it.skipIf(!rgw)('wrong upstream credentials: requests fail with AccessDenied, readiness says so, no key is echoed', async () => {
    const wrongSecret = randomBytes(30).toString('base64')
    const config = gatewayConfig({
      type: 's3',
      endpoint: rgw!.endpoint,
      region: rgw!.region,
      forcePathStyle: true,
      accessKeyId: rgw!.accessKeyId,
      secretAccessKey: wrongSecret,
    })
    const gw = await startGateway({ config })
    try {
      const client = sdkClient(gw.url, { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey })
      const failed = await sdkError(client.send(new PutObjectCommand({ Bucket: uniqueBucket('custody'), Key: 'k', Body: 'x' })))
      client.destroy()
      expect(failed.status).toBe(403)
      expect(failed.name).toBe('AccessDenied')
      const url = new URL(gw.url)
      const raw = await rawRequest({ host: url.hostname, port: Number(url.port) }, { method: 'GET', path: '/-/readyz' })
      expect(raw.status).toBe(503)
      expect(JSON.parse(raw.body.toString())).toEqual({ status: 'unavailable', checks: { storage: 'AccessDenied' } })
      const metrics = await (await fetch(gw.url + '/-/metrics')).text()
      const everything = gw.output() + failed.message + raw.body.toString() + metrics
      expectNoSecret(everything, wrongSecret, rgw!.secretAccessKey, gw.secretAccessKey, config.keyring.keys[0]!.key)
      // Neither the upstream's access key id: clients learn nothing about the upstream.
      expect(failed.message + raw.body.toString() + metrics).not.toContain(rgw!.accessKeyId)
    } finally {
      await gw.stop()
    }
  })

  it('--help prints no secret from the environment', async () => {
    const secret = randomBytes(30).toString('base64')
    const { code, output } = await run(['--help'], { S3VEIL_CONFIG: '/dev/null', AWS_SECRET_ACCESS_KEY: secret, S3VEIL_T_SECRET: secret })
    expect(code).toBe(0)
    expect(output).toContain('Usage: s3veil')
    expectNoSecret(output, secret)
  })

  it.each(['throw', 'reject'])('a crash (%s) is one fatal line with the error, not its request and response', async (how) => {
    const secret = randomBytes(30).toString('base64')
    // What the serve command installs, then an SDK-like error carrying a signed request escapes.
    const script = `
      import { reportCrashes } from './src/node.ts'
      reportCrashes()
      const err = Object.assign(new Error('upstream exploded'), { $response: { headers: { authorization: process.env.T_SECRET } } })
      setTimeout(() => { ${how === 'throw' ? 'throw err' : 'Promise.reject(err)'} }, 10)`
    const result = await new Promise<Run>((resolve) => {
      const options = { cwd: REPO_ROOT, env: { ...process.env, T_SECRET: secret }, timeout: 30_000 }
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], options, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, output: stdout + stderr })
      })
    })
    expect(result.code).toBe(1)
    const line = JSON.parse(result.output.trim()) as { level: number; msg: string; err: { message: string } }
    expect(line.level).toBe(60)
    expect(line.msg).toMatch(/^(uncaught exception|unhandled promise rejection)$/)
    expect(line.err.message).toBe('upstream exploded')
    expectNoSecret(result.output, secret)
  })
})
