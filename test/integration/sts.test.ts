/**
 * STS AssumeRoleWithLDAPIdentity (issue 4, item 3) against a real slapd and the gateway process:
 * LDAP users get temporary credentials with a raw POST, then aws-cli v2 uses them
 * (AWS_SESSION_TOKEN → x-amz-security-token). Group `scientists` may read and write `team/`,
 * `engineers` only read it; a session policy narrows further; tampered tokens are InvalidToken; a
 * second instance with the same tokenKey accepts the tokens (nothing is stored); a wrong password
 * is AccessDenied. Expiry itself is covered by src/auth/sts.test.ts (no fake clocks here).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type GatewayProcess } from '../helpers/gateway.js'
import { LDAP_SUFFIX, ldapForTests } from '../helpers/ldap.js'
import { FULL_ACCESS_POLICY, awsClientEnv, gatewayConfig, probe, requireTool, sdkClient } from './support.js'

const BUCKET = 'sts-ldap'
const ARN = `arn:aws:s3:::${BUCKET}`
const AWS_V2 = '/usr/bin/aws'
const awsV2Version = probe(AWS_V2, ['--version'])
const haveAwsV2 = requireTool('aws-cli v2 at /usr/bin/aws', awsV2Version?.startsWith('aws-cli/2.') ?? false, 'apt-get install awscli')
const ldap = await ldapForTests()

const POLICIES = {
  'full-access': FULL_ACCESS_POLICY,
  'team-rw': {
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `${ARN}/team/*` },
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

interface Credentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
  expiration: string
}

/** A raw STS call, as MinIO's docs show it with curl: a form POST to the endpoint's root. */
async function assumeRole(url: string, params: Record<string, string>): Promise<{ status: number; body: string }> {
  const form = new URLSearchParams({ Action: 'AssumeRoleWithLDAPIdentity', Version: '2011-06-15', ...params })
  const res = await fetch(`${url}/`, { method: 'POST', body: form })
  return { status: res.status, body: await res.text() }
}

function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1]
}

async function credentialsFor(url: string, params: Record<string, string>): Promise<Credentials> {
  const res = await assumeRole(url, params)
  expect(res.status, res.body).toBe(200)
  expect(res.body).toContain('<AssumeRoleWithLDAPIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
  expect(element(res.body, 'RequestId')).toMatch(/^[0-9A-F]+$/)
  return {
    accessKeyId: element(res.body, 'AccessKeyId')!,
    secretAccessKey: element(res.body, 'SecretAccessKey')!,
    sessionToken: element(res.body, 'SessionToken')!,
    expiration: element(res.body, 'Expiration')!,
  }
}

/** aws-cli v2 with only these temporary credentials, nothing from the host's AWS setup. */
function aws(url: string, creds: Credentials, home: string, ...args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const env = awsClientEnv(creds, home, { AWS_MAX_ATTEMPTS: '1' })
  return new Promise((done) => {
    execFile(AWS_V2, ['--endpoint-url', url, ...args], { env, cwd: home, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ ok: !err, stdout, stderr })
    )
  })
}

describe.skipIf(!ldap || !haveAwsV2)('STS AssumeRoleWithLDAPIdentity with aws-cli v2', () => {
  let gw: GatewayProcess
  let second: GatewayProcess
  let home: string
  let file: string

  beforeAll(async () => {
    const config = gatewayConfig(
      { type: 'disk' },
      {
        policies: POLICIES,
        groups: {
          scientists: { policies: ['team-rw'] },
          [`cn=engineers,ou=groups,${LDAP_SUFFIX}`]: { policies: ['team-read'] },
        },
        ldap: {
          url: ldap!.url,
          bindDN: ldap!.bindDN,
          bindPassword: ldap!.bindPassword,
          userBase: `ou=people,${LDAP_SUFFIX}`,
        },
        sts: { tokenKey: randomBytes(32).toString('base64') },
      }
    )
    gw = await startGateway({ config })
    // Same config (keys), same data: another instance behind the same load balancer.
    second = await startGateway({ config, dataDir: gw.dataDir })
    await sdkClient(gw.url, gw).send(new CreateBucketCommand({ Bucket: BUCKET }))
    home = gw.dataDir
    file = join(home, 'upload.txt')
    await writeFile(file, 'hello from newton\n')
  })

  afterAll(async () => {
    await second?.stop()
    await gw?.stop()
    await ldap?.stop()
  })

  it('newton (scientists) gets credentials and puts and gets under team/ with aws-cli', async () => {
    const started = Date.now()
    const creds = await credentialsFor(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password' })
    expect(creds.accessKeyId).toMatch(/^ASIA/)
    // The default duration is an hour.
    expect(Math.abs(Date.parse(creds.expiration) - (started + 3600_000))).toBeLessThan(60_000)
    const put = await aws(gw.url, creds, home, 's3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/team/newton.txt`)
    expect(put.ok, put.stderr).toBe(true)
    const get = await aws(gw.url, creds, home, 's3', 'cp', `s3://${BUCKET}/team/newton.txt`, '-')
    expect([get.ok, get.stdout]).toEqual([true, 'hello from newton\n'])
    const outside = await aws(gw.url, creds, home, 's3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/other/x`)
    expect(outside.ok).toBe(false)
    expect(outside.stderr).toContain('AccessDenied')
  })

  it("tesla's (engineers) credentials can only read", async () => {
    const creds = await credentialsFor(gw.url, { LDAPUsername: 'tesla', LDAPPassword: 'password' })
    const get = await aws(gw.url, creds, home, 's3', 'cp', `s3://${BUCKET}/team/newton.txt`, '-')
    expect([get.ok, get.stdout]).toEqual([true, 'hello from newton\n'])
    const put = await aws(gw.url, creds, home, 's3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/team/tesla.txt`)
    expect(put.ok).toBe(false)
    expect(put.stderr).toContain('AccessDenied')
  })

  it('a session policy narrows newton to reading: his put is AccessDenied', async () => {
    const readOnly = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARN}/*` }] }
    const creds = await credentialsFor(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password', Policy: JSON.stringify(readOnly) })
    const get = await aws(gw.url, creds, home, 's3', 'cp', `s3://${BUCKET}/team/newton.txt`, '-')
    expect([get.ok, get.stdout]).toEqual([true, 'hello from newton\n'])
    const put = await aws(gw.url, creds, home, 's3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/team/narrowed.txt`)
    expect(put.ok).toBe(false)
    expect(put.stderr).toContain('AccessDenied')
    // The session policy cannot widen either: it allows other/, his groups do not.
    const everything = JSON.stringify({ Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*' } })
    const wide = await credentialsFor(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password', Policy: everything })
    const outside = await aws(gw.url, wide, home, 's3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/other/x`)
    expect([outside.ok, outside.stderr.includes('AccessDenied')]).toEqual([false, true])
  })

  it('a tampered token is InvalidToken', async () => {
    const creds = await credentialsFor(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password' })
    const i = Math.floor(creds.sessionToken.length / 2)
    const sessionToken = creds.sessionToken.slice(0, i) + (creds.sessionToken[i] === 'A' ? 'B' : 'A') + creds.sessionToken.slice(i + 1)
    const args = ['s3api', 'get-object', '--bucket', BUCKET, '--key', 'team/newton.txt', 'out.txt']
    const get = await aws(gw.url, { ...creds, sessionToken }, home, ...args)
    expect(get.ok).toBe(false)
    expect(get.stderr).toContain('(InvalidToken)')
  })

  it('DurationSeconds=900 sets Expiration 15 minutes ahead; out-of-range durations are refused', async () => {
    const started = Date.now()
    const creds = await credentialsFor(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password', DurationSeconds: '900' })
    expect(Math.abs(Date.parse(creds.expiration) - (started + 900_000))).toBeLessThan(60_000)
    for (const DurationSeconds of ['899', '43201', 'soon']) {
      const res = await assumeRole(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password', DurationSeconds })
      expect(res.status).toBe(400)
      expect(element(res.body, 'Code')).toBe('InvalidParameterValue')
    }
  })

  it('a second gateway instance with the same tokenKey accepts the token (no shared state)', async () => {
    const creds = await credentialsFor(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password' })
    const get = await aws(second.url, creds, home, 's3', 'cp', `s3://${BUCKET}/team/newton.txt`, '-')
    expect([get.ok, get.stdout]).toEqual([true, 'hello from newton\n'])
  })

  it('a wrong LDAP password is AccessDenied as STS error XML', async () => {
    const res = await assumeRole(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'wrong' })
    expect(res.status).toBe(403)
    expect(res.body).toContain('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    expect([element(res.body, 'Type'), element(res.body, 'Code')]).toEqual(['Sender', 'AccessDenied'])
    expect(element(res.body, 'RequestId')).toMatch(/^[0-9A-F]+$/)
    const malformed = await assumeRole(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password', Policy: '{"Statement": []}' })
    expect(element(malformed.body, 'Code')).toBe('MalformedPolicyDocument')
  })

  it('a form body over 16 KiB is InvalidParameterValue, even with the right password', async () => {
    const res = await assumeRole(gw.url, { LDAPUsername: 'newton', LDAPPassword: 'password', Padding: 'x'.repeat(17 * 1024) })
    expect(res.status).toBe(400)
    expect(element(res.body, 'Code')).toBe('InvalidParameterValue')
    expect(element(res.body, 'SessionToken')).toBeUndefined()
  })
})
