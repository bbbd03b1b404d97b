/**
 * Malformed config files are refused at startup with the place to look (issue 4, "what bad input
 * gets"): a JSON syntax error as `file:line:column`, a wrong value as `file:line` plus its JSON path;
 * TLS material that cannot serve (issue 5) names the setting and the reason.
 */
import { execFile } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { testPki, type TestPki } from '../helpers/certs.js'
import { REPO_ROOT } from '../helpers/gateway.js'

const exec = promisify(execFile)

async function serveWith(text: string): Promise<{ file: string; code: number; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 's3veil-config-'))
  const file = join(dir, 'config.json')
  await writeFile(file, text, { mode: 0o600 })
  const args = [join(REPO_ROOT, 'bin/s3veil.js'), 'serve', '--config', file, '--port', '0', '--data-dir', join(dir, 'data')]
  try {
    await exec(process.execPath, args, { cwd: REPO_ROOT, timeout: 30_000 })
    return { file, code: 0, stderr: '' }
  } catch (err) {
    const e = err as { code?: number; stderr?: string }
    return { file, code: e.code ?? -1, stderr: e.stderr ?? '' }
  }
}

const KEYRING = '"keyring": { "keys": [ { "id": "k1", "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" } ] }'

describe('a malformed config file is refused at startup', () => {
  it('a policy with Effect "Alow": exit 1, file:line and the JSON path', async () => {
    const text = `{\n  ${KEYRING},\n  "policies": {\n    "rw": { "Statement": [\n      { "Effect": "Alow", "Action": "s3:*", "Resource": "*" }\n    ] }\n  }\n}\n`
    const { file, code, stderr } = await serveWith(text)
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:5: config: policies.rw.Statement[0].Effect: must be "Allow" or "Deny"`)
  })

  it('an unknown policy name on a user: exit 1, file:line', async () => {
    const text = `{\n  ${KEYRING},\n  "users": [ { "name": "a", "accessKeys": [],\n    "policies": ["nope"] } ]\n}\n`
    const { file, code, stderr } = await serveWith(text)
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:4: config: users[0].policies[0]: no policy named "nope"`)
  })

  it('a trailing comma: exit 1, file:line:column', async () => {
    const text = `{\n  ${KEYRING},\n  "logLevel": "info",\n}\n`
    const { file, code, stderr } = await serveWith(text)
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:4:1: config: not valid JSON`)
  })
})

describe('TLS settings that cannot work are refused at startup, naming the setting', () => {
  let pki: TestPki
  beforeAll(async () => {
    pki = await testPki()
  })

  const tlsConfig = (tls: Record<string, unknown>, extra = '') =>
    `{ ${KEYRING}${extra}, "tls": ${JSON.stringify({ host: '127.0.0.1', port: 0, cert: pki.server.chain, key: { file: pki.server.key }, ...tls })} }`

  it.each([
    ['a client CA file holding no certificate (a key)', () => ({ clientCertificates: { ca: pki.root.key } }), 'tls.clientCertificates.ca: no certificate in it'],
    ['a cipher list OpenSSL does not know', () => ({ ciphers: 'NOPE-CIPHER' }), 'tls.ciphers: OpenSSL cannot use "NOPE-CIPHER"'],
    ['no key', () => ({ key: undefined }), 'tls.key: is required'],
    ['a key file that does not exist', () => ({ key: { file: '/nonexistent/key.pem' } }), 'tls.key: cannot read secret file /nonexistent/key.pem (ENOENT)'],
  ])('%s', async (_label, tls, message) => {
    const { code, stderr } = await serveWith(tlsConfig(tls()))
    expect(code).toBe(1)
    expect(stderr).toContain(message)
    expect(stderr).not.toContain('tls.key: tls.key')
    expect(stderr).not.toContain('PRIVATE KEY')
  })

  it.each([
    ['a file that does not exist', '/nonexistent/ca.pem', 'storage.caBundle: cannot read /nonexistent/ca.pem (ENOENT)'],
    ['a file holding no certificate', 'KEYFILE', 'no certificate in it'],
  ])('an upstream caBundle that is %s', async (_label, bundle, message) => {
    const storage = { type: 's3', endpoint: 'https://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 'SK0123456789', caBundle: bundle === 'KEYFILE' ? pki.root.key : bundle }
    const { code, stderr } = await serveWith(`{ ${KEYRING}, "storage": ${JSON.stringify(storage)} }`)
    expect(code).toBe(1)
    expect(stderr).toContain(message)
  })

  it('a TLS port that is taken: the listener and the address are named', async () => {
    const taken = createServer()
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done))
    const port = (taken.address() as AddressInfo).port
    try {
      const { code, stderr } = await serveWith(tlsConfig({ port }))
      expect(code).toBe(1)
      expect(stderr).toContain(`tls: cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE)`)
    } finally {
      taken.close()
    }
  })
})
