/**
 * HTTP Basic on the S3 paths (issue 4, items 2 and 5), with curl against the running gateway and a
 * real slapd: LDAP group `scientists` may read and write `team/`, `engineers` (mapped by DN) only
 * read it; a local user with a password hash works too. Wrong passwords and LDAP filter injection get
 * 401 AccessDenied with a challenge; a stopped directory gets a fast 503; with Basic disabled the
 * same request is a plain 403 without a challenge. A second gateway binds users directly by a DN
 * template (no service account), with groups from their own entry's memberOf.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../../src/auth/password.js'
import { startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { LDAP_SUFFIX, ldapForTests } from '../helpers/ldap.js'
import { FULL_ACCESS_POLICY, gatewayConfig, sdkClient } from './support.js'

const exec = promisify(execFile)
const BUCKET = 'basic-ldap'
const ARN = `arn:aws:s3:::${BUCKET}`
const ldap = await ldapForTests()

const POLICIES = {
  'full-access': FULL_ACCESS_POLICY,
  'team-rw': {
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: `${ARN}/team/*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: ARN },
    ],
  },
  'team-read': {
    Statement: [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARN}/team/*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: ARN },
    ],
  },
}

interface CurlResult {
  status: number
  headers: string
  body: string
}

/** curl as a user would run it; `-w` appends the status after the body. */
async function curl(args: string[]): Promise<CurlResult> {
  const { stdout } = await exec('curl', ['-sS', '-D', '-', '-w', '\n%{http_code}', ...args], { timeout: 30_000 })
  const split = stdout.indexOf('\r\n\r\n')
  const headers = stdout.slice(0, split)
  const rest = stdout.slice(split + 4)
  const nl = rest.lastIndexOf('\n')
  return { status: Number(rest.slice(nl + 1)), headers, body: rest.slice(0, nl) }
}

describe.skipIf(!ldap)('HTTP Basic with local users and LDAP', () => {
  let gw: GatewayProcess
  let file: string
  const stopLdap = () => ldap!.stop()

  beforeAll(async () => {
    const config = gatewayConfig(
      { type: 'disk' },
      {
        policies: POLICIES,
        groups: {
          scientists: { policies: ['team-rw'] },
          [`cn=engineers,ou=groups,${LDAP_SUFFIX}`]: { policies: ['team-read'] },
        },
        basicAuth: { enabled: true },
        ldap: {
          url: ldap!.url,
          bindDN: ldap!.bindDN,
          bindPassword: ldap!.bindPassword,
          userBase: `ou=people,${LDAP_SUFFIX}`,
          userFilter: '(uid={username})',
        },
      }
    )
    config.users.push({ name: 'carol', groups: [], accessKeys: [], policies: ['team-rw'], password: await hashPassword('carol pw:1') } as never)
    gw = await startGateway({ config })
    await sdkClient(gw.url, gw).send(new CreateBucketCommand({ Bucket: BUCKET }))
    file = join(gw.dataDir, 'upload.txt')
    await writeFile(file, 'hello from newton\n')
  })

  afterAll(async () => {
    await gw?.stop()
    await stopLdap()
  })

  it('newton (scientists) uploads to team/ and reads it back', async () => {
    const put = await curl(['-u', 'newton:password', '-T', file, `${gw.url}/${BUCKET}/team/x`])
    expect(put.status).toBe(200)
    const get = await curl(['-u', 'newton:password', `${gw.url}/${BUCKET}/team/x`])
    expect([get.status, get.body]).toEqual([200, 'hello from newton\n'])
    const list = await curl(['-u', 'newton:password', `${gw.url}/${BUCKET}?list-type=2&prefix=team/`])
    expect(list.body).toContain('<Key>team/x</Key>')
  })

  it('tesla (engineers, mapped by DN) can read but not write', async () => {
    const get = await curl(['-u', 'tesla:password', `${gw.url}/${BUCKET}/team/x`])
    expect([get.status, get.body]).toEqual([200, 'hello from newton\n'])
    const put = await curl(['-u', 'tesla:password', '-T', file, `${gw.url}/${BUCKET}/team/y`])
    expect(put.status).toBe(403)
    expect(put.body).toContain('<Code>AccessDenied</Code>')
    // A policy denial is not an authentication failure: no challenge.
    expect(put.headers.toLowerCase()).not.toContain('www-authenticate')
  })

  it('a wrong password gets 401 AccessDenied XML with a request id and a challenge', async () => {
    const res = await curl(['-u', 'newton:wrong', `${gw.url}/${BUCKET}/team/x`])
    expect(res.status).toBe(401)
    expect(res.body).toContain('<Code>AccessDenied</Code>')
    expect(res.body).toMatch(/<RequestId>[0-9A-F]+<\/RequestId>/)
    expect(res.headers).toMatch(/www-authenticate: Basic realm="s3veil"/i)
  })

  it('an LDAP filter injection in the user name authenticates nobody', async () => {
    for (const user of ['*)(uid=*', '*', 'newton)(|(uid=*']) {
      const res = await curl(['-u', `${user}:x`, `${gw.url}/${BUCKET}/team/x`])
      expect(res.status).toBe(401)
      expect(res.body).toContain('<Code>AccessDenied</Code>')
    }
  })

  it('an anonymous request is challenged', async () => {
    const res = await curl([`${gw.url}/${BUCKET}/team/x`])
    expect(res.status).toBe(401)
    expect(res.headers).toMatch(/www-authenticate: Basic/i)
  })

  it('a local user with a password hash works, password with a colon included', async () => {
    const put = await curl(['-u', 'carol:carol pw:1', '-T', file, `${gw.url}/${BUCKET}/team/carol`])
    expect(put.status).toBe(200)
    const wrong = await curl(['-u', 'carol:carol pw', `${gw.url}/${BUCKET}/team/carol`])
    expect(wrong.status).toBe(401)
  })

  it('direct DN bind: newton works, a wrong password or a DN injection in the name does not', async () => {
    const direct = await startGateway({
      config: gatewayConfig(
        { type: 'disk' },
        {
          policies: POLICIES,
          groups: { scientists: { policies: ['team-rw'] } },
          basicAuth: { enabled: true },
          ldap: { url: ldap!.url, userDNTemplate: `uid={username},ou=people,${LDAP_SUFFIX}` },
        }
      ),
    })
    try {
      await sdkClient(direct.url, direct).send(new CreateBucketCommand({ Bucket: BUCKET }))
      const put = await curl(['-u', 'newton:password', '-T', file, `${direct.url}/${BUCKET}/team/direct`])
      expect(put.status).toBe(200)
      const get = await curl(['-u', 'newton:password', `${direct.url}/${BUCKET}/team/direct`])
      expect([get.status, get.body]).toEqual([200, 'hello from newton\n'])
      const wrong = await curl(['-u', 'newton:wrong', `${direct.url}/${BUCKET}/team/direct`])
      expect(wrong.status).toBe(401)
      // Unescaped, these would name another entry (or an extra RDN); escaped, they name nobody. (` newton`
      // is not here: uid matching ignores surrounding spaces, as it ignores case, so it is newton.)
      for (const user of ['newton,ou=x', 'newton+cn=Newton', '*', 'newton\\']) {
        const res = await curl(['-u', `${user}:password`, `${direct.url}/${BUCKET}/team/direct`])
        expect(res.status).toBe(401)
        expect(res.body).toContain('<Code>AccessDenied</Code>')
      }
      // Failed binds are not outages: the directory is still asked, and newton still gets in.
      const again = await curl(['-u', 'newton:password', `${direct.url}/${BUCKET}/team/direct`])
      expect(again.status).toBe(200)
    } finally {
      await direct.stop()
    }
  })

  it('with LDAP stopped: a cached login still works, a new one gets a fast 503', async () => {
    await stopLdap()
    const cached = await curl(['-u', 'newton:password', `${gw.url}/${BUCKET}/team/x`])
    expect(cached.status).toBe(200)
    const started = performance.now()
    const res = await curl(['-u', 'einstein:password', `${gw.url}/${BUCKET}/team/x`])
    expect(performance.now() - started).toBeLessThan(5000)
    expect(res.status).toBe(503)
    expect(res.body).toContain('<Code>ServiceUnavailable</Code>')
  })
})

describe('HTTP Basic disabled (the default)', () => {
  let gw: GatewayProcess

  beforeAll(async () => {
    const config = gatewayConfig({ type: 'disk' })
    config.users.push({ name: 'carol', groups: [], accessKeys: [], policies: ['full-access'], password: await hashPassword('pw') } as never)
    gw = await startGateway({ config })
  })

  afterAll(() => gw?.stop())

  it('Basic credentials and anonymous requests get 403 AccessDenied without a challenge', async () => {
    for (const args of [['-u', 'carol:pw'], []]) {
      const res = await curl([...args, `${gw.url}/any-bucket/key`])
      expect(res.status).toBe(403)
      expect(res.body).toContain('<Code>AccessDenied</Code>')
      expect(res.headers.toLowerCase()).not.toContain('www-authenticate')
    }
  })
})
