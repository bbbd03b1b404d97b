import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { nodePlatform } from '../platform/node.js'
import { isS3Error } from '../s3/errors.js'
import { evaluate } from './policy.js'
import { createStsCodec, stsCredentials } from './sts.js'

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0)
const SESSION = { user: 'newton', groups: ['scientists', 'cn=scientists,ou=groups,dc=example,dc=com'], expiresAt: NOW + 3600_000 }
const key = () => new Uint8Array(randomBytes(32))

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    if (isS3Error(err)) return err.code
    throw err
  }
  return 'no error'
}

describe('STS session tokens', () => {
  it('round-trips the claims and re-derives the secret', async () => {
    const codec = await createStsCodec(nodePlatform, key())
    const policy = '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}'
    const creds = await codec.issue({ ...SESSION, policy })
    expect(creds.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/)
    expect(creds.secretAccessKey).toHaveLength(40)
    expect(creds.sessionToken).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(creds.expiration.getTime()).toBe(SESSION.expiresAt)
    const opened = await codec.open(creds.sessionToken, NOW)
    expect(opened.secretAccessKey).toBe(creds.secretAccessKey)
    expect(opened.claims).toEqual({ ...SESSION, policy, accessKeyId: creds.accessKeyId })
  })

  it('gives each session its own key id and secret', async () => {
    const codec = await createStsCodec(nodePlatform, key())
    const [a, b] = await Promise.all([codec.issue(SESSION), codec.issue(SESSION)])
    expect(a.accessKeyId).not.toBe(b.accessKeyId)
    expect(a.secretAccessKey).not.toBe(b.secretAccessKey)
  })

  it('rejects a token with any character changed, truncated, or not a token at all', async () => {
    const codec = await createStsCodec(nodePlatform, key())
    const { sessionToken } = await codec.issue(SESSION)
    for (let i = 0; i < sessionToken.length - 1; i += 7) {
      const swapped = sessionToken[i] === 'A' ? 'B' : 'A'
      const tampered = sessionToken.slice(0, i) + swapped + sessionToken.slice(i + 1)
      expect(await codeOf(codec.open(tampered, NOW))).toBe('InvalidToken')
    }
    for (const bad of [sessionToken.slice(0, -4), '', 'not a token', 'AAAA', 'x'.repeat(9000)]) {
      expect(await codeOf(codec.open(bad, NOW))).toBe('InvalidToken')
    }
  })

  it('rejects a token sealed under another key', async () => {
    const issuer = await createStsCodec(nodePlatform, key())
    const other = await createStsCodec(nodePlatform, key())
    const { sessionToken } = await issuer.issue(SESSION)
    expect(await codeOf(other.open(sessionToken, NOW))).toBe('InvalidToken')
  })

  it('accepts a token with the same key in another codec (another gateway instance)', async () => {
    const raw = key()
    const creds = await (await createStsCodec(nodePlatform, raw)).issue(SESSION)
    const opened = await (await createStsCodec(nodePlatform, raw.slice())).open(creds.sessionToken, NOW)
    expect(opened.secretAccessKey).toBe(creds.secretAccessKey)
  })

  it('expires at the expiration, not a second later', async () => {
    const codec = await createStsCodec(nodePlatform, key())
    const { sessionToken } = await codec.issue({ ...SESSION, expiresAt: NOW + 900_000 })
    await expect(codec.open(sessionToken, NOW + 899_999)).resolves.toBeDefined()
    expect(await codeOf(codec.open(sessionToken, NOW + 900_000))).toBe('ExpiredToken')
    expect(await codeOf(codec.open(sessionToken, NOW + 86_400_000))).toBe('ExpiredToken')
  })

  it('refuses a token key that is not 32 bytes', async () => {
    await expect(createStsCodec(nodePlatform, new Uint8Array(16))).rejects.toThrow(/32 bytes/)
  })
})

describe('stsCredentials', () => {
  it('needs the session token and the access key id it was minted with', async () => {
    const codec = await createStsCodec(nodePlatform, key())
    const lookup = stsCredentials(codec, () => NOW)
    const creds = await codec.issue({ ...SESSION, policy: '{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}' })
    const found = await lookup(creds.accessKeyId, creds.sessionToken)
    expect(found?.secretAccessKey).toBe(creds.secretAccessKey)
    const principal = found?.principal as { user: string; directory: string; sessionPolicy: never }
    expect([principal.user, principal.directory]).toEqual(['newton', 'ldap'])
    expect(evaluate([principal.sessionPolicy], { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' })).toBe('allow')
    expect(evaluate([principal.sessionPolicy], { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' })).toBe('deny')
    expect(await lookup(creds.accessKeyId, undefined)).toBeUndefined()
    const other = await codec.issue(SESSION)
    expect(await codeOf(lookup(other.accessKeyId, creds.sessionToken))).toBe('InvalidToken')
  })
})
