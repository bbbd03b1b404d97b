/** @module tls.test */
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { testPki } from '../test/helpers/certs.js'
import { parseConfig } from './config.js'
import { formatSubject, subjectKey, subjectMapper, tlsServerOptions, watchCertificates } from './tls.js'

const DEFAULTS = { host: '127.0.0.1', port: 0, dataDir: '/tmp/x', logLevel: 'info' }
const BASE = { keyring: { keys: [{ id: 'k', key: 'x' }] }, users: [{ name: 'alice', accessKeys: [] }] }

function config(extra: Record<string, unknown>) {
  return parseConfig({ ...BASE, ...extra }, DEFAULTS)
}

describe('certificate subjects', () => {
  it('prints X509Certificate subjects most specific first, one line', () => {
    expect(formatSubject('C=DE\nO=Example\nCN=alice')).toBe('CN=alice,O=Example,C=DE')
    expect(formatSubject('O=Example\nCN=alice + UID=7')).toBe('CN=alice+UID=7,O=Example')
  })

  it('compares subjects regardless of order, attribute case and spaces, but not value case', () => {
    expect(subjectKey('CN=alice, O=Example')).toBe(subjectKey('o=Example,CN=alice'))
    expect(subjectKey('CN=alice,O=Example')).not.toBe(subjectKey('CN=Alice,O=Example'))
    expect(subjectKey('CN=alice,O=Example')).not.toBe(subjectKey('CN=alice'))
    // An escaped comma is part of the value, not a separator.
    expect(subjectKey('CN=alice,O=Example\\, Inc')).toBe(subjectKey('O=Example\\, Inc,CN=alice'))
    expect(subjectKey('CN=alice,O=Example\\, Inc')).not.toBe(subjectKey('CN=alice,O=Example,O=Inc'))
  })

  it('maps a certificate subject to the configured user', () => {
    const userFor = subjectMapper({ 'CN=alice, O=Example': 'alice' })
    expect(userFor(formatSubject('O=Example\nCN=alice'))).toBe('alice')
    expect(userFor('CN=mallory,O=Example')).toBeUndefined()
  })
})

describe('the tls section of the config', () => {
  const tls = { cert: '/c.pem', key: { file: '/k.pem' } }

  it('defaults: TLS 1.2 floor, port 7443, the listen host; plain HTTP stays on', () => {
    const c = config({ tls })
    expect(c.tls).toMatchObject({ host: '127.0.0.1', port: 7443, minVersion: 'TLSv1.2', cert: '/c.pem', key: { file: '/k.pem' } })
    expect(c.tls?.ciphers).toBeUndefined()
    expect(c.listen.enabled).toBe(true)
    expect(config({}).tls).toBeUndefined()
  })

  it('"listen": false turns plain HTTP off, only with an HTTPS listener', () => {
    expect(config({ tls, listen: false }).listen.enabled).toBe(false)
    expect(() => config({ listen: false })).toThrow(/listen: may only be false/)
  })

  it('refuses unknown settings, old protocol floors and mappings to unknown users', () => {
    expect(() => config({ tls: { ...tls, minversion: 'TLSv1.3' } })).toThrow(/tls\.minversion: unknown setting/)
    expect(() => config({ tls: { ...tls, minVersion: 'TLSv1.1' } })).toThrow(/tls\.minVersion: must be/)
    expect(() => config({ tls: { key: tls.key } })).toThrow(/tls\.cert/)
    const mtls = (clientCertificates: unknown) => config({ tls: { ...tls, clientCertificates } })
    expect(mtls({ ca: '/ca.pem', users: { 'CN=alice': 'alice' } }).tls?.clientCertificates).toEqual({
      ca: '/ca.pem',
      required: false,
      users: { 'CN=alice': 'alice' },
      requireSignature: false,
    })
    expect(() => mtls({ ca: '/ca.pem', users: { 'CN=bob': 'bob' } })).toThrow(/no user named "bob"/)
    expect(() => mtls({ ca: '/ca.pem', users: { alice: 'alice' } })).toThrow(/must be a subject/)
    expect(() => mtls({ users: {} })).toThrow(/clientCertificates\.ca/)
    expect(() => mtls({ ca: '/ca.pem', require: true })).toThrow(/unknown setting/)
  })

  it('storage.insecureSkipVerify is off unless set', () => {
    const s3 = { type: 's3', endpoint: 'https://s3.example' }
    expect(config({ storage: s3 }).storage).toMatchObject({ insecureSkipVerify: false })
    expect(config({ storage: { ...s3, insecureSkipVerify: true } }).storage).toMatchObject({ insecureSkipVerify: true })
  })
})

describe('reloading the listener (watchCertificates)', () => {
  it('a client CA file that turns into garbage is refused and the CA in use kept; a good one is taken', async () => {
    const pki = await testPki()
    const work = await mkdtemp(join(tmpdir(), 's3veil-tls-reload-'))
    const caFile = join(work, 'client-ca.pem')
    await copyFile(pki.root.cert, caFile)
    const c = config({ tls: { cert: pki.server.chain, key: { file: pki.server.key }, clientCertificates: { ca: caFile } } })
    const resolveSecret = async (ref: unknown) => readFile((ref as { file: string }).file, 'utf8')
    const server = createServer(await tlsServerOptions(c.tls!, resolveSecret))
    const log = { info: vi.fn(), error: vi.fn() }
    const reloader = watchCertificates(server, c.tls!, resolveSecret, log, 60_000)
    try {
      await writeFile(caFile, 'garbage\n')
      expect(await reloader.reload()).toBe(false)
      expect(log.error).toHaveBeenCalledWith({ reason: expect.stringContaining('tls.clientCertificates.ca: no certificate in it') }, expect.stringContaining('keeping the current'))
      await copyFile(pki.intermediate.cert, caFile)
      expect(await reloader.reload()).toBe(true)
      expect(log.info).toHaveBeenCalledTimes(1)
    } finally {
      reloader.close()
      server.close()
    }
  })
})
