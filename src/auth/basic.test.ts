/** @module auth/basic.test */
import { describe, expect, it } from 'vitest'
import { createBasicAuthenticator, FailureThrottle, parseBasic, type PasswordVerifier } from './basic.js'
import { escapeDnValue, escapeFilterValue, firstRdnValue } from './ldap.js'
import { hashPassword, parsePasswordHash, verifyPassword } from './password.js'

const header = (value: string) => new Headers({ authorization: value })
const basic = (text: string) => header('Basic ' + Buffer.from(text, 'utf8').toString('base64'))

describe('parseBasic', () => {
  it('splits at the first colon and decodes UTF-8', () => {
    expect(parseBasic(basic('newton:pa:ss'))).toEqual({ username: 'newton', password: 'pa:ss' })
    expect(parseBasic(basic('jürgen:€'))).toEqual({ username: 'jürgen', password: '€' })
    expect(parseBasic(header('bAsIc ' + btoa('a:b')))).toEqual({ username: 'a', password: 'b' })
  })
  it.each([
    ['no header', new Headers()],
    ['another scheme', header('Bearer abc')],
    ['bad base64', header('Basic !!!')],
    ['no colon', basic('newton')],
    ['empty user', basic(':pw')],
    ['control character', basic('a\nb:pw')],
    ['not UTF-8', header('Basic ' + Buffer.from([0xff, 0x3a, 0x61]).toString('base64'))],
  ])('%s → undefined', (_name, headers) => {
    expect(parseBasic(headers)).toBeUndefined()
  })
})

describe('FailureThrottle and the authenticator', () => {
  it('refuses after the burst of failures and regains attempts over time', async () => {
    let now = 0
    const throttle = new FailureThrottle({ burst: 2, refillPerMinute: 1, now: () => now })
    const verify: PasswordVerifier = async (u, p) =>
      p === 'right' ? { principal: { user: u, groups: [], method: 'basic' } } : 'wrong-password'
    const auth = createBasicAuthenticator([verify], throttle)
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string; status: number }) => `${e.code} ${e.status}`)
    expect(await code(auth.authenticate({ username: 'u', password: 'x' }, '1.2.3.4'))).toBe('AccessDenied 403')
    expect(await code(auth.authenticate({ username: 'u', password: 'x' }, '1.2.3.4'))).toBe('AccessDenied 403')
    // Even the right password waits: otherwise the throttle would still answer guesses.
    expect(await code(auth.authenticate({ username: 'u', password: 'right' }, '1.2.3.4'))).toBe('SlowDown 503')
    // Another address is throttled for this user too; another user from this address as well.
    expect(await code(auth.authenticate({ username: 'u', password: 'right' }, '5.6.7.8'))).toBe('SlowDown 503')
    expect(await code(auth.authenticate({ username: 'v', password: 'right' }, '1.2.3.4'))).toBe('SlowDown 503')
    // The same user spelled as directories match it (case, surrounding spaces) shares the allowance.
    expect(await code(auth.authenticate({ username: ' U ', password: 'right' }, '9.9.9.9'))).toBe('SlowDown 503')
    now += 60_000
    expect(await code(auth.authenticate({ username: 'u', password: 'right' }, '1.2.3.4'))).toBe('ok')
  })

  it('tries sources in order; a wrong password ends the attempt; an empty password is refused', async () => {
    const calls: string[] = []
    const source = (name: string, knows: string): PasswordVerifier => async (u, p) => {
      calls.push(name)
      if (u !== knows) return 'no-such-user'
      return p === 'pw' ? { principal: { user: u, groups: [name], method: 'basic' } } : 'wrong-password'
    }
    const auth = createBasicAuthenticator([source('local', 'a'), source('ldap', 'b')], new FailureThrottle({ burst: 100, refillPerMinute: 1 }))
    expect((await auth.authenticate({ username: 'b', password: 'pw' }, undefined)).groups).toEqual(['ldap'])
    calls.length = 0
    await expect(auth.authenticate({ username: 'a', password: 'no' }, undefined)).rejects.toThrow('Access Denied')
    expect(calls).toEqual(['local'])
    calls.length = 0
    await expect(auth.authenticate({ username: 'b', password: '' }, undefined)).rejects.toThrow('Access Denied')
    expect(calls).toEqual([])
  })
})

describe('LDAP helpers', () => {
  it('escapes filter values per RFC 4515', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a')
    expect(escapeFilterValue('a\\b\u0000')).toBe('a\\5cb\\00')
  })
  it('escapes DN attribute values per RFC 4514, not per RFC 4515', () => {
    expect(escapeDnValue('newton')).toBe('newton')
    expect(escapeDnValue('newton,ou=x')).toBe('newton\\,ou\\=x')
    expect(escapeDnValue('a+b;c<d>e"f\\g')).toBe('a\\+b\\;c\\<d\\>e\\"f\\\\g')
    // Filter metacharacters mean nothing in a DN and stay as they are.
    expect(escapeDnValue('*)(uid=*')).toBe('*)(uid\\=*')
    expect(escapeDnValue('#x')).toBe('\\#x')
    expect(escapeDnValue('x#')).toBe('x#')
    expect(escapeDnValue(' a b ')).toBe('\\ a b\\ ')
    expect(escapeDnValue(' ')).toBe('\\ ')
    expect(escapeDnValue('a\u0000b')).toBe('a\\00b')
    expect(escapeDnValue('jürgen')).toBe('jürgen')
  })
  it('names a group by its first RDN value', () => {
    expect(firstRdnValue('cn=scientists,ou=groups,dc=example,dc=com')).toBe('scientists')
    expect(firstRdnValue('cn=R\\, D,ou=groups')).toBe('R, D')
  })
})

describe('password hashes', () => {
  it('verify the password they were made from, and nothing else', async () => {
    const stored = await hashPassword('secret', { N: 1024, r: 8, p: 1 })
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    const parsed = parsePasswordHash(stored)!
    expect(await verifyPassword('secret', parsed)).toBe(true)
    expect(await verifyPassword('Secret', parsed)).toBe(false)
    expect(parsePasswordHash('scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==')).toBeUndefined()
    expect(parsePasswordHash('plain-password')).toBeUndefined()
  })
})
