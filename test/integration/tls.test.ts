/**
 * The HTTPS listener, mutual TLS and upstream TLS, against real gateway processes with certificates
 * made for this run (test/helpers/certs.ts): openssl s_client for the handshake rules, aws-cli v2,
 * boto3, the JS SDK (aws-chunked trailers, as SDKs send them over HTTPS) and curl as clients, and a
 * second gateway behind the first one's HTTPS listener as a TLS upstream with a private CA.
 */
import { spawn } from 'node:child_process'
import { X509Certificate, randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises'
import { Agent as HttpsAgent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testPki, type Issued, type TestPki } from '../helpers/certs.js'
import { requestRecords, startGateway, type GatewayProcess } from '../helpers/gateway.js'
import {
  MiB,
  REGION,
  awsClientEnv,
  gatewayConfig,
  probe,
  requireTool,
  sdkClient,
  sdkError,
  sleep,
  type GatewayConfig,
} from './support.js'

const haveOpenssl = requireTool('openssl', probe('openssl', ['version']) !== undefined, 'apt-get install openssl')
const haveCurl = requireTool('curl', probe('curl', ['--version']) !== undefined, 'apt-get install curl')
const AWS_V2 = '/usr/bin/aws'
const awsV2 = probe(AWS_V2, ['--version'])?.startsWith('aws-cli/2.') ?? false
const haveAwsV2 = requireTool('aws-cli v2 at /usr/bin/aws', awsV2, 'apt-get install awscli')
const boto3 = probe('python3', ['-c', 'import boto3']) !== undefined
const haveBoto3 = requireTool('python3 with boto3', boto3, 'apt-get install python3-boto3')

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs a program to its end; never throws for a non-zero exit (the tests look at it). */
function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((done) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe'
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: [stdin, 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code: code ?? -1, stdout, stderr })
    })
    if (child.stdin) {
      // A program that exits before reading its input is not a failure of ours.
      child.stdin.on('error', () => {})
      child.stdin.end(options.input)
    }
  })
}

/** An openssl s_client handshake with the listener; stdin closed, so it says goodbye right after. */
interface Handshake {
  ok: boolean
  cipher?: string
  protocol?: string
  /** The serial number of the certificate the server presented. */
  serial?: string
  out: string
}

async function handshake(url: string, args: string[]): Promise<Handshake> {
  const { hostname, port } = new URL(url)
  const r = await run('openssl', ['s_client', '-connect', `${hostname}:${port}`, '-servername', 'localhost', ...args])
  const out = r.stdout + r.stderr
  const [, protocol, cipher] = /New, (\S+), Cipher is (\S+)/.exec(r.stdout) ?? []
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0]
  return {
    ok: r.code === 0 && cipher !== undefined && cipher !== '(NONE)',
    cipher,
    protocol,
    serial: pem ? new X509Certificate(pem).serialNumber : undefined,
    out,
  }
}

function curl(args: string[]): Promise<Run> {
  return run('curl', ['-sS', '--max-time', '20', ...args])
}

/** The JS SDK over HTTPS, trusting `ca` and presenting `client`'s certificate if given. */
async function httpsClient(
  url: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  pki: TestPki,
  client?: Issued
): Promise<S3Client> {
  const agent = new HttpsAgent({
    ca: await readFile(pki.root.cert),
    ...(client ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {}),
  })
  return sdkClient(url, creds, { requestHandler: { httpsAgent: agent } })
}

/** Records the x-amz-content-sha256 of every request the client sends (after signing). */
function payloadModes(client: S3Client): string[] {
  const seen: string[] = []
  client.middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {}
      seen.push(headers['x-amz-content-sha256'] ?? '')
      return next(args)
    },
    { step: 'deserialize', name: 'recordPayloadMode' }
  )
  return seen
}

async function bodyOf(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await got.Body!.transformToByteArray())
}

type AuditLine = Record<string, unknown>

function auditRecords(gw: GatewayProcess): AuditLine[] {
  return requestRecords(gw.output())
}

/** The first audit record that matches; it is written as the response ends, so it may trail the client a little. */
async function auditRecord(gw: GatewayProcess, match: (r: AuditLine) => boolean): Promise<AuditLine | undefined> {
  for (let i = 0; i < 40; i++) {
    const found = auditRecords(gw).find(match)
    if (found) return found
    await sleep(50)
  }
  return undefined
}

function handshakeFailures(gw: GatewayProcess): string[] {
  return gw.output().split('\n').filter((line) => line.includes('"msg":"TLS handshake failed"'))
}

function withUser(config: GatewayConfig, name: string): { id: string; secret: string } {
  const key = { id: 'AKS3VEIL' + randomBytes(6).toString('hex').toUpperCase(), secret: randomBytes(30).toString('base64') }
  config.users.push({ name, groups: [], accessKeys: [key], policies: ['full-access'] })
  return key
}

const creds = (k: { id: string; secret: string }) => ({ accessKeyId: k.id, secretAccessKey: k.secret })

describe.skipIf(!haveOpenssl || !haveCurl)('TLS', () => {
  let pki: TestPki
  let work: string
  /** HTTPS only, optional client certificates (alice's mapped), certificate key from a file. */
  let open: GatewayProcess
  let openConfig: GatewayConfig
  let bob: { id: string; secret: string }
  /** Plain HTTP and HTTPS; client certificates required, and a signature by the certificate's user. */
  let strict: GatewayProcess
  let strictConfig: GatewayConfig
  let strictBob: { id: string; secret: string }

  beforeAll(async () => {
    pki = await testPki()
    work = await mkdtemp(join(tmpdir(), 's3veil-tls-'))
    // The listener's files are copies, so the reload test can replace them.
    await copyFile(pki.server.chain, join(work, 'server.pem'))
    await copyFile(pki.server.key, join(work, 'server.key'))
    openConfig = gatewayConfig({ type: 'disk' }, {
      listen: false,
      // The bucket the TLS-upstream test stores through another gateway: that one's envelopes pass as they are.
      plaintextBuckets: ['via-tls'],
      tls: {
        host: '127.0.0.1',
        port: 0,
        cert: join(work, 'server.pem'),
        key: { file: join(work, 'server.key') },
        // The subject as people write it (RFC 4514 order, a space); the certificate says O=Example, CN=alice.
        clientCertificates: { ca: pki.root.cert, required: false, users: { 'CN=alice, O=Example': 'alice' } },
      },
    })
    bob = withUser(openConfig, 'bob')
    strictConfig = gatewayConfig({ type: 'disk' }, {
      tls: {
        port: 0,
        cert: pki.server.chain,
        key: { env: 'S3VEIL_TEST_TLS_KEY' },
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384',
        clientCertificates: {
          ca: pki.root.cert,
          required: true,
          requireSignature: true,
          users: { 'CN=alice,O=Example': 'alice', 'CN=bob,O=Example': 'bob' },
        },
      },
    })
    strictBob = withUser(strictConfig, 'bob')
    ;[open, strict] = await Promise.all([
      startGateway({ config: openConfig }),
      startGateway({ config: strictConfig, env: { S3VEIL_TEST_TLS_KEY: await readFile(pki.server.key, 'utf8') } }),
    ])
  })

  afterAll(async () => {
    await Promise.all([open?.stop(), strict?.stop()])
  })

  describe('the HTTPS listener', () => {
    it('serves HTTPS only when plain HTTP is turned off, and logs the https URL', () => {
      expect(open.tlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
      expect(open.url).toBe(open.tlsUrl)
      expect(open.output()).not.toMatch(/"url":"http:/)
      expect(strict.url).toMatch(/^http:\/\//)
      expect(strict.tlsUrl).toMatch(/^https:\/\//)
    })

    it('takes TLS 1.2 and 1.3 with a verified chain (leaf + intermediate) and refuses TLS 1.0 and 1.1', async () => {
      const verify = ['-CAfile', pki.root.cert, '-verify_return_error']
      const [v12, v13, v11, v10] = await Promise.all([
        handshake(open.tlsUrl!, ['-tls1_2', ...verify]),
        handshake(open.tlsUrl!, ['-tls1_3', ...verify]),
        handshake(open.tlsUrl!, ['-tls1_1']),
        handshake(open.tlsUrl!, ['-tls1']),
      ])
      expect(v12.ok, v12.out).toBe(true)
      expect(v12.protocol).toBe('TLSv1.2')
      expect(v12.cipher).toMatch(/^ECDHE-(RSA|ECDSA)-.*(GCM|CHACHA20)/)
      expect(v12.out).toContain('Verify return code: 0 (ok)')
      expect(v13.ok, v13.out).toBe(true)
      expect(v13.protocol).toBe('TLSv1.3')
      expect(v11.ok, v11.out).toBe(false)
      expect(v10.ok, v10.out).toBe(false)
      expect(v11.out + v10.out).toMatch(/protocol version|no protocols available/i)
    })

    it('refuses suites without forward secrecy or AEAD by default', async () => {
      for (const cipher of ['AES256-GCM-SHA384', 'AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384']) {
        const r = await handshake(open.tlsUrl!, ['-tls1_2', '-cipher', cipher])
        expect(r.ok, `${cipher}: ${r.out}`).toBe(false)
      }
      expect(open.output()).toContain('"securityEvent":"tls-handshake-failed"')
      // Counted for alerting too, though a failed handshake has no request and no audit record.
      const metrics = await curl(['--cacert', pki.root.cert, `${open.tlsUrl!}/-/metrics`])
      const failed = /^s3veil_security_events_total\{reason="tls-handshake-failed"\} (\d+)/m.exec(metrics.stdout)
      expect(Number(failed?.[1])).toBeGreaterThanOrEqual(4)
    })

    it('takes a configured cipher list instead', async () => {
      const client = ['-cert', pki.alice.cert, '-key', pki.alice.key, '-tls1_2']
      const allowed = await handshake(strict.tlsUrl!, [...client, '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384'])
      const other = await handshake(strict.tlsUrl!, [...client, '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])
      expect(allowed.ok, allowed.out).toBe(true)
      expect(other.ok, other.out).toBe(false)
    })

    it('gives plain HTTP on the TLS port no S3 answer', async () => {
      const r = await curl(['-o', '-', open.tlsUrl!.replace('https:', 'http:') + '/'])
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
    })

    it.skipIf(!haveAwsV2)('aws-cli v2 with --ca-bundle: cp up and down (single and multipart) over HTTPS', async () => {
      const home = await mkdtemp(join(work, 'aws-'))
      const env = awsClientEnv(creds(openConfig.users[0]!.accessKeys[0]!), home)
      const aws = (...args: string[]) => run(AWS_V2, ['--endpoint-url', open.tlsUrl!, '--ca-bundle', pki.root.cert, ...args], { env })
      const small = join(home, 'small.bin')
      const big = join(home, 'big.bin')
      await writeFile(small, randomBytes(100_000))
      await writeFile(big, randomBytes(9 * MiB))
      const mb = await aws('s3', 'mb', 's3://cli-tls')
      expect(mb.code, mb.stderr).toBe(0)
      for (const file of [small, big]) {
        const up = await aws('s3', 'cp', file, 's3://cli-tls/')
        expect(up.code, up.stderr).toBe(0)
        const down = await aws('s3', 'cp', `s3://cli-tls/${file.split('/').pop()}`, file + '.back')
        expect(down.code, down.stderr).toBe(0)
        expect((await readFile(file + '.back')).equals(await readFile(file))).toBe(true)
      }
      // Without the CA the client refuses the gateway's certificate.
      const untrusted = await run(AWS_V2, ['--endpoint-url', open.tlsUrl!, 's3', 'ls'], { env })
      expect(untrusted.code).not.toBe(0)
      expect(untrusted.stderr).toMatch(/SSL|certificate/i)
    })

    it('the JS SDK with default checksums: aws-chunked trailers on a stream PUT and a multipart upload', async () => {
      const client = await httpsClient(open.tlsUrl!, creds(openConfig.users[0]!.accessKeys[0]!), pki)
      const modes = payloadModes(client)
      await client.send(new CreateBucketCommand({ Bucket: 'sdk-tls' }))
      const small = randomBytes(300_000)
      const stream = Readable.from([small.subarray(0, 100_000), small.subarray(100_000)])
      await client.send(new PutObjectCommand({ Bucket: 'sdk-tls', Key: 'stream', Body: stream, ContentLength: small.length }))
      expect(modes).toContain('STREAMING-UNSIGNED-PAYLOAD-TRAILER')
      expect((await bodyOf(client, 'sdk-tls', 'stream')).equals(small)).toBe(true)
      const big = randomBytes(11 * MiB)
      const upload = new Upload({ client, params: { Bucket: 'sdk-tls', Key: 'multi', Body: Readable.from([big]) }, partSize: 5 * MiB })
      const done = await upload.done()
      expect(done.ETag).toMatch(/-3"$/)
      expect((await bodyOf(client, 'sdk-tls', 'multi')).equals(big)).toBe(true)
      client.destroy()
      const put = await auditRecord(open, (r) => r.operation === 'PutObject' && r.key === 'stream')
      expect(put).toMatchObject({ tlsVersion: 'TLSv1.3', authMethod: 'sigv4-header', user: 'alice' })
      expect(put?.tlsCipher).toMatch(/^TLS_/)
    })

    it.skipIf(!haveBoto3)('boto3 (current defaults: checksum trailers) with verify=CA', async () => {
      const script = [
        'import os, sys, boto3',
        'from botocore.config import Config',
        "s3 = boto3.client('s3', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1',",
        "                  config=Config(s3={'addressing_style': 'path'}))",
        "s3.create_bucket(Bucket='boto-tls')",
        'data = os.urandom(200000)',
        "s3.put_object(Bucket='boto-tls', Key='k', Body=data)",
        "assert s3.get_object(Bucket='boto-tls', Key='k')['Body'].read() == data",
        "print('ok')",
      ].join('\n')
      const home = await mkdtemp(join(work, 'boto-'))
      const env = awsClientEnv(creds(openConfig.users[0]!.accessKeys[0]!), home)
      const r = await run('python3', ['-c', script, open.tlsUrl!, pki.root.cert], { env })
      expect(r.stdout.trim(), r.stderr).toBe('ok')
    })
  })

  describe('mutual TLS', () => {
    const curlTls = (url: string, client: Issued | undefined, ...args: string[]) =>
      curl(['--cacert', pki.root.cert, ...(client ? ['--cert', client.cert, '--key', client.key] : []), ...args, url])

    it('a mapped certificate alone identifies its user (no signature): put and get', async () => {
      const base = open.tlsUrl!.replace('127.0.0.1', 'localhost')
      const file = join(work, 'cert-only.txt')
      await writeFile(file, `cert only ${randomBytes(8).toString('hex')}\n`)
      expect((await curlTls(`${base}/cert-bucket`, pki.alice, '-f', '-X', 'PUT')).code).toBe(0)
      expect((await curlTls(`${base}/cert-bucket/note.txt`, pki.alice, '-f', '-T', file)).code).toBe(0)
      const got = await curlTls(`${base}/cert-bucket/note.txt`, pki.alice, '-f')
      expect(got.stdout).toBe(await readFile(file, 'utf8'))
      const record = await auditRecord(open, (r) => r.operation === 'PutObject' && r.key === 'note.txt')
      expect(record).toMatchObject({ authMethod: 'mtls', user: 'alice', clientCert: 'CN=alice,O=Example', clientCertTrusted: true, status: 200 })
    })

    it('without a certificate, or with an unmapped one, the request is anonymous; an untrusted one is refused', async () => {
      const base = open.tlsUrl!.replace('127.0.0.1', 'localhost')
      for (const client of [undefined, pki.bob]) {
        const r = await curlTls(`${base}/cert-bucket/note.txt`, client, '-w', '%{http_code}', '-o', '/dev/null')
        expect(r.stdout).toBe('403')
      }
      // Same subject as alice's, from a CA the gateway does not trust.
      const stranger = await curlTls(`${base}/cert-bucket/note.txt`, pki.stranger)
      expect(stranger.stdout).toContain('<Code>AccessDenied</Code>')
      expect(stranger.stdout).not.toContain('cert only')
      // Its record carries the claimed subject, marked as not trusted.
      const record = await auditRecord(open, (r) => r.clientCert === 'CN=alice,O=Example' && r.clientCertTrusted === false)
      expect(record).toMatchObject({ status: 403, errorCode: 'AccessDenied' })
    })

    it('a required certificate: none, or an untrusted one, fails the handshake', async () => {
      const base = strict.tlsUrl!.replace('127.0.0.1', 'localhost')
      const failuresBefore = handshakeFailures(strict).length
      for (const client of [undefined, pki.stranger]) {
        const r = await curlTls(`${base}/`, client)
        expect(r.code, r.stderr).not.toBe(0)
        expect(r.stdout).toBe('')
      }
      // The gateway logged both refusals, the first saying that no certificate came.
      for (let i = 0; i < 40 && handshakeFailures(strict).length < failuresBefore + 2; i++) await sleep(50)
      const failures = handshakeFailures(strict).slice(failuresBefore)
      expect(failures.length, failures.join('\n')).toBeGreaterThanOrEqual(2)
      expect(failures[0]).toMatch(/PEER_DID_NOT_RETURN_A_CERTIFICATE/)
    })

    it('requireSignature: a certificate alone is AccessDenied; signed by its user works, by another user is AccessDenied', async () => {
      const base = strict.tlsUrl!.replace('127.0.0.1', 'localhost')
      const alone = await curlTls(`${base}/`, pki.alice, '-w', '\n%{http_code}')
      expect(alone.stdout).toContain('<Code>AccessDenied</Code>')
      expect(alone.stdout.trim().split('\n').pop()).toBe('403')

      const alice = await httpsClient(strict.tlsUrl!, creds(strictConfig.users[0]!.accessKeys[0]!), pki, pki.alice)
      await alice.send(new CreateBucketCommand({ Bucket: 'both' }))
      await alice.send(new PutObjectCommand({ Bucket: 'both', Key: 'k', Body: 'signed and certified' }))
      expect((await bodyOf(alice, 'both', 'k')).toString()).toBe('signed and certified')
      alice.destroy()

      const bobWithAliceCert = await httpsClient(strict.tlsUrl!, creds(strictBob), pki, pki.alice)
      const denied = await sdkError(bobWithAliceCert.send(new GetObjectCommand({ Bucket: 'both', Key: 'k' })))
      expect(denied.status).toBe(403)
      expect(denied.name).toBe('AccessDenied')
      bobWithAliceCert.destroy()
      const record = await auditRecord(strict, (r) => r.user === 'bob' && r.status === 403)
      expect(record).toMatchObject({ clientCert: 'CN=alice,O=Example', errorCode: 'AccessDenied', securityEvent: expect.any(String) })
    })
  })

  describe('a TLS upstream with a private CA (another gateway)', () => {
    let fronts: GatewayProcess[] = []
    afterAll(async () => {
      await Promise.all(fronts.map((f) => f.stop()))
    })

    it('verifies the upstream certificate: works with caBundle, fails clearly without, insecureSkipVerify works and warns', async () => {
      const upstreamKey = openConfig.users[0]!.accessKeys[0]!
      const storage = (extra: Record<string, unknown>) => ({
        type: 's3',
        endpoint: open.tlsUrl,
        region: REGION,
        forcePathStyle: true,
        accessKeyId: upstreamKey.id,
        secretAccessKey: upstreamKey.secret,
        ...extra,
      })
      const trustedConfig = gatewayConfig(storage({ caBundle: pki.root.cert }))
      // One master key for the three, so each can read what another stored.
      const configs = [
        trustedConfig,
        gatewayConfig(storage({}), { keyring: trustedConfig.keyring }),
        gatewayConfig(storage({ insecureSkipVerify: true }), { keyring: trustedConfig.keyring }),
      ]
      fronts = await Promise.all(configs.map((config) => startGateway({ config })))
      const [trusted, untrusted, insecure] = fronts as [GatewayProcess, GatewayProcess, GatewayProcess]
      const clientOf = (gw: GatewayProcess) => sdkClient(gw.url, gw)

      const data = randomBytes(200_000)
      const c1 = clientOf(trusted)
      await c1.send(new CreateBucketCommand({ Bucket: 'via-tls' }))
      await c1.send(new PutObjectCommand({ Bucket: 'via-tls', Key: 'obj', Body: data }))
      expect((await bodyOf(c1, 'via-tls', 'obj')).equals(data)).toBe(true)
      // The upstream stored ciphertext: what the front gateway wrote is not the plaintext.
      const direct = await httpsClient(open.tlsUrl!, creds(upstreamKey), pki)
      expect((await bodyOf(direct, 'via-tls', 'obj')).includes(data.subarray(0, 64))).toBe(false)
      direct.destroy()

      const failed = await sdkError(clientOf(untrusted).send(new GetObjectCommand({ Bucket: 'via-tls', Key: 'obj' })))
      expect(failed.status).toBe(503)
      expect(failed.message).toMatch(/TLS certificate was not trusted/)
      expect(failed.message).not.toContain(upstreamKey.secret)
      expect(untrusted.output()).not.toContain(upstreamKey.secret)
      // The operator sees why in the request's audit record.
      const record = await auditRecord(untrusted, (r) => r.operation === 'GetObject')
      expect(record?.upstreamError).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/)
      // Readiness says so too.
      const [ready, notReady] = await Promise.all([fetch(`${trusted.url}/-/readyz`), fetch(`${untrusted.url}/-/readyz`)])
      expect(ready.status).toBe(200)
      expect(notReady.status).toBe(503)
      expect(await notReady.text()).toContain('"storage":"ServiceUnavailable"')

      expect((await bodyOf(clientOf(insecure), 'via-tls', 'obj')).equals(data)).toBe(true)
      expect(insecure.output()).toMatch(/"level":40[^\n]*INSECURE: storage.insecureSkipVerify/)
      expect(trusted.output()).not.toContain('INSECURE')
    })
  })

  describe('certificate reload without restart', () => {
    const certFile = () => join(work, 'server.pem')
    const keyFile = () => join(work, 'server.key')
    const served = async () => (await handshake(open.tlsUrl!, ['-CAfile', pki.root.cert, '-verify_return_error'])).serial

    async function replaceWith(issued: Issued): Promise<void> {
      // As renewal tools do: write aside, then rename over the old files.
      await copyFile(issued.key, keyFile() + '.new')
      await copyFile(issued.chain, certFile() + '.new')
      await rename(keyFile() + '.new', keyFile())
      await rename(certFile() + '.new', certFile())
    }

    async function waitForSerial(serial: string): Promise<string | undefined> {
      let seen: string | undefined
      for (let i = 0; i < 50 && seen !== serial; i++) {
        seen = await served()
        if (seen !== serial) await sleep(100)
      }
      return seen
    }

    it('picks up replaced files, keeps the old certificate when the new one is bad, and reloads on SIGHUP', async () => {
      const before = await served()
      expect(before).toBe(new X509Certificate(await readFile(pki.server.cert)).serialNumber)

      const renewed = await pki.issueServer({ name: 'server-renewed', subject: '/O=s3veil tests/CN=localhost/OU=renewed' })
      const renewedSerial = new X509Certificate(await readFile(renewed.cert)).serialNumber
      await replaceWith(renewed)
      expect(await waitForSerial(renewedSerial)).toBe(renewedSerial)

      // A certificate that does not match the key is refused; the renewed one stays in service.
      const failuresBefore = open.output().split('TLS certificate reload failed').length
      await writeFile(certFile(), await readFile(pki.alice.cert))
      for (let i = 0; i < 50 && open.output().split('TLS certificate reload failed').length === failuresBefore; i++) await sleep(100)
      expect(open.output().split('TLS certificate reload failed').length).toBeGreaterThan(failuresBefore)
      expect(await served()).toBe(renewedSerial)

      // SIGHUP: the files are put back in place and the process told to re-read them.
      const third = await pki.issueServer({ name: 'server-third', subject: '/O=s3veil tests/CN=localhost/OU=third' })
      const thirdSerial = new X509Certificate(await readFile(third.cert)).serialNumber
      await replaceWith(third)
      process.kill(open.pid, 'SIGHUP')
      expect(await waitForSerial(thirdSerial)).toBe(thirdSerial)
      expect(open.output()).toMatch(/"msg":"TLS certificate reloaded"/)
      // Still the same process, still serving.
      const client = await httpsClient(open.tlsUrl!, creds(openConfig.users[0]!.accessKeys[0]!), pki)
      expect((await bodyOf(client, 'sdk-tls', 'stream')).length).toBe(300_000)
      client.destroy()
    })
  })
})
