/** @module config.test */
import { describe, expect, it } from 'vitest'
import { evaluate } from './auth/policy.js'
import { effectivePolicies, parseConfig } from './config.js'

const DEFAULTS = { host: '127.0.0.1', port: 0, dataDir: '/tmp/x', logLevel: 'info' }
const ALL = { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }
const READ = { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }

function config(extra: Record<string, unknown>) {
  return parseConfig({ keyring: { keys: [{ id: 'k', key: 'x' }] }, ...extra }, DEFAULTS)
}

describe('policies in the config', () => {
  it("a user's policies are their own plus their groups'", () => {
    const c = config({
      policies: { all: ALL, read: READ },
      groups: { staff: { policies: ['all'] }, readers: { policies: ['read'] } },
      users: [
        { name: 'a', groups: ['readers', 'undeclared'], accessKeys: [], policies: [] },
        { name: 'b', groups: ['staff'], accessKeys: [], policies: ['read'] },
        { name: 'c', accessKeys: [] },
      ],
    })
    const names = c.users.map((u) => effectivePolicies(c, u).map((p) => p.name))
    expect(names).toEqual([['read'], ['read', 'all'], []])
    const put = { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }
    expect(c.users.map((u) => evaluate(effectivePolicies(c, u), put))).toEqual(['deny', 'allow', 'deny'])
  })

  it('Basic is off by default; LDAP fields get their defaults', () => {
    const c = config({ ldap: { url: 'ldap://h', bindDN: 'cn=ro', bindPassword: { env: 'PW' }, userBase: 'ou=people' } })
    expect(c.basicAuth).toEqual({ enabled: false, failureBurst: 10, failureRefillPerMinute: 10 })
    expect(c.ldap).toMatchObject({ userFilter: '(uid={username})', groupAttribute: 'memberOf', timeoutMs: 3000, cacheTtlSeconds: 60 })
  })

  it('LDAP without a service account uses direct bind with a DN template', () => {
    const c = config({ ldap: { url: 'ldap://h', userDNTemplate: 'uid={username},ou=people,dc=x' } })
    expect(c.ldap).toMatchObject({ userDNTemplate: 'uid={username},ou=people,dc=x', bindDN: undefined, bindPassword: undefined })
  })

  const errors: [string, Record<string, unknown>, string][] = [
    ['ldap with neither a service account nor a DN template', { ldap: { url: 'ldap://x', userBase: 'c' } }, 'config: ldap: needs "bindDN" (search-then-bind) or "userDNTemplate"'],
    ['ldap DN template without the user name', { ldap: { url: 'ldap://x', userDNTemplate: 'uid=a,dc=x' } }, 'config: ldap.userDNTemplate: must contain {username}'],
    ['ldap service account without a password', { ldap: { url: 'ldap://x', bindDN: 'a', userBase: 'c' } }, 'config: ldap.bindPassword: is required'],
    ['unknown policy on a user', { policies: { read: READ }, users: [{ name: 'a', accessKeys: [], policies: ['write'] }] }, 'config: users[0].policies[0]: no policy named "write"'],
    ['unknown policy on a group', { groups: { g: { policies: ['nope'] } } }, 'config: groups.g.policies[0]: no policy named "nope"'],
    ['malformed document', { policies: { read: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject' }] } } }, 'config: policies.read.Statement[0].Resource: is required'],
    ['policies not an object', { policies: [] }, 'config: policies: must be an object'],
    ['basicAuth.enabled not a boolean', { basicAuth: { enabled: 'yes' } }, 'config: basicAuth.enabled: must be true or false'],
    ['ldap url of another scheme', { ldap: { url: 'http://x', bindDN: 'a', bindPassword: 'b', userBase: 'c' } }, 'config: ldap.url: must start with ldap://'],
    ['ldap filter without the user name', { ldap: { url: 'ldap://x', bindDN: 'a', bindPassword: 'b', userBase: 'c', userFilter: '(uid=*)' } }, 'config: ldap.userFilter: must contain {username}'],
    ['sts without ldap', { sts: { tokenKey: { env: 'K' } } }, 'config: sts: needs "ldap"'],
    ['sts without a token key', { ldap: { url: 'ldap://x', bindDN: 'a', bindPassword: 'b', userBase: 'c' }, sts: {} }, 'config: sts.tokenKey: is required'],
    // A misspelled setting must not silently fall back to its default (here: LDAP without TLS).
    ['a misspelled ldap setting', { ldap: { url: 'ldap://x', userDNTemplate: 'uid={username}', startTls: true } }, 'config: ldap.startTls: unknown setting'],
    ['a misspelled top-level setting', { plaintextBucket: ['b'] }, 'config: plaintextBucket: unknown setting'],
    ['an unknown field on an access key', { users: [{ name: 'a', accessKeys: [{ id: 'k', secret: 's', disable: true }] }] }, 'config: users[0].accessKeys[0].disable: unknown setting'],
    ['an unknown field in a secret reference', { keyring: { keys: [{ id: 'k', key: { path: '/x' } }] } }, 'config: keyring.keys[0].key.path: unknown setting'],
  ]
  it.each(errors)('%s is a startup error naming the path', (_name, extra, message) => {
    expect(() => config(extra)).toThrow(message)
  })
})
