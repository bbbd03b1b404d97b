/**
 * @module test/helpers/certs
 * Certificates made at test time with the openssl command (nothing is committed): CAs, server
 * certificates for 127.0.0.1/localhost, client certificates, and `testPki()`, a ready set of them
 * (a root CA with an intermediate that signs the server, client certificates signed by the root, and a
 * client certificate from a CA nobody trusts). Keys are EC P-256 (fast to make) except the server's
 * (RSA 2048); files are PEM.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const OPENSSL = 'openssl'

export interface Ca {
  name: string
  cert: string
  key: string
}

export interface Issued {
  /** The certificate alone. */
  cert: string
  /** The certificate followed by its issuer when that is an intermediate (what a server presents). */
  chain: string
  key: string
  subject: string
}

export interface CertOptions {
  /** OpenSSL's slash form, e.g. `/O=Example/CN=alice`. */
  subject: string
  usage: 'server' | 'client'
  /** subjectAltName entries; servers default to localhost and 127.0.0.1. */
  altNames?: string[]
  serial?: number
  /** A file name stem in the directory; defaults to a slug of the subject. */
  name?: string
  /** EC P-256 (default) or RSA 2048 (so that RSA key exchange suites would be possible if allowed). */
  keyType?: 'ec' | 'rsa'
}

function openssl(args: string[], cwd: string): Promise<string> {
  return new Promise((done, reject) => {
    execFile(OPENSSL, args, { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${err.message}\n${stderr}`))
      else done(stdout)
    })
  })
}

let serialCounter = Date.now() % 1_000_000

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase()
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
const RSA_KEY = ['-newkey', 'rsa:2048', '-nodes']

/** A self-signed root CA. */
export async function makeCa(dir: string, name: string): Promise<Ca> {
  const stem = join(dir, slug(name))
  await openssl(
    ['req', '-x509', ...EC_KEY, '-keyout', `${stem}.key`, '-out', `${stem}.pem`, '-days', '3', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir
  )
  return { name, cert: `${stem}.pem`, key: `${stem}.key` }
}

/** A certificate signed by `ca` from a fresh key; `ca: true` in options makes an intermediate CA. */
export async function issue(dir: string, ca: Ca, options: CertOptions & { ca?: boolean }): Promise<Issued> {
  const stem = join(dir, options.name ?? slug(options.subject))
  const newKey = options.keyType === 'rsa' ? RSA_KEY : EC_KEY
  await openssl(['req', '-new', ...newKey, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', options.subject], dir)
  const altNames = options.altNames ?? (options.usage === 'server' ? ['DNS:localhost', 'IP:127.0.0.1'] : [])
  const ext = options.ca
    ? ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign']
    : [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${options.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
        ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(',')}`] : []),
      ]
  await writeFile(`${stem}.ext`, ext.join('\n') + '\n')
  await openssl(
    ['x509', '-req', '-in', `${stem}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(options.serial ?? ++serialCounter),
      '-days', '2', '-sha256', '-extfile', `${stem}.ext`, '-out', `${stem}.pem`],
    dir
  )
  let chain = `${stem}.pem`
  // A certificate issued by an intermediate is presented together with it.
  if (!(await isSelfSigned(ca.cert))) {
    chain = `${stem}.chain.pem`
    await writeFile(chain, (await readFile(`${stem}.pem`, 'utf8')) + (await readFile(ca.cert, 'utf8')))
  }
  return { cert: `${stem}.pem`, chain, key: `${stem}.key`, subject: options.subject }
}

async function isSelfSigned(certFile: string): Promise<boolean> {
  const { X509Certificate } = await import('node:crypto')
  const cert = new X509Certificate(await readFile(certFile))
  return cert.subject === cert.issuer
}

export interface TestPki {
  dir: string
  /** Trusted root: clients verify the server with it, the gateway verifies client certificates with it. */
  root: Ca
  /** Signs the server certificate (so the server presents a chain). */
  intermediate: Ca
  server: Issued
  alice: Issued
  bob: Issued
  /** A client certificate whose CA nobody trusts. */
  stranger: Issued
  /** Issues another certificate under the intermediate (e.g. a renewed server certificate). */
  issueServer(options?: Partial<CertOptions>): Promise<Issued>
}

/** A fresh set of CAs and certificates in a new temporary directory. */
export async function testPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 's3veil-pki-'))
  const root = await makeCa(dir, 's3veil test root CA')
  const intermediateCert = await issue(dir, root, {
    subject: '/CN=s3veil test intermediate CA',
    usage: 'server',
    ca: true,
    name: 'intermediate',
  })
  const intermediate: Ca = { name: 's3veil test intermediate CA', cert: intermediateCert.cert, key: intermediateCert.key }
  const untrusted = await makeCa(dir, 'untrusted CA')
  // RSA: a weak RSA-key-exchange suite is then refused by configuration, not by the key type.
  const issueServer = (options: Partial<CertOptions> = {}) =>
    issue(dir, intermediate, { subject: '/O=s3veil tests/CN=localhost', usage: 'server', name: 'server', keyType: 'rsa', ...options })
  const [server, alice, bob, stranger] = await Promise.all([
    issueServer(),
    issue(dir, root, { subject: '/O=Example/CN=alice', usage: 'client', name: 'alice' }),
    issue(dir, root, { subject: '/O=Example/CN=bob', usage: 'client', name: 'bob' }),
    issue(dir, untrusted, { subject: '/O=Example/CN=alice', usage: 'client', name: 'stranger' }),
  ])
  return { dir, root, intermediate, server, alice, bob, stranger, issueServer }
}
