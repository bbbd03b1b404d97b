/** @module tls.test */
import { describe, expect, it } from 'vitest'
import { parseConfig } from './config.js'
import { formatSubject, subjectKey, subjectMapper } from './tls.js'

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
