import { describe, expect, it } from 'vitest'
import { S3Error } from '../../s3/errors.js'
import {
  formatAmzDate,
  formatIsoSeconds,
  hasSigV4,
  isPresigned,
  parseAmzDate,
  parseAuthorizationHeader,
  parseCredential,
  parsePresignedQuery,
  readRequestTime,
} from './parse.js'

const SIG = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'
const CRED = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof S3Error) return err.code
    throw err
  }
  return undefined
}

function req(headers: Record<string, string>, rawQuery = '') {
  return { method: 'GET', rawPath: '/', rawQuery, headers: new Headers(headers) }
}

describe('hasSigV4', () => {
  it('recognises the Authorization header and the presigned query', () => {
    expect(
      hasSigV4(
        req({ authorization: `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}` })
      )
    ).toBe(true)
    expect(hasSigV4(req({}, 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x'))).toBe(true)
    expect(hasSigV4(req({}, 'X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256'))).toBe(true)
    expect(isPresigned(req({}, 'X-Amz-Algorithm=AWS4-HMAC-SHA256'))).toBe(true)
  })

  it('is false for anonymous, SigV2 and look-alike requests', () => {
    expect(hasSigV4(req({}))).toBe(false)
    expect(hasSigV4(req({ authorization: 'AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=' }))).toBe(
      false
    )
    expect(hasSigV4(req({}, 'prefix=X-Amz-Algorithm'))).toBe(false)
    expect(hasSigV4(req({}, 'x-amz-algorithm=AWS4-HMAC-SHA256'))).toBe(false)
  })
})

describe('parseAuthorizationHeader', () => {
  const expected = {
    kind: 'header',
    credential: {
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      date: '20130524',
      region: 'us-east-1',
      service: 's3',
      scope: '20130524/us-east-1/s3/aws4_request',
    },
    signedHeadersRaw: 'host;range;x-amz-date',
    signedHeaders: ['host', 'range', 'x-amz-date'],
    signature: SIG,
  }

  it.each([
    [`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;range;x-amz-date, Signature=${SIG}`],
    [`AWS4-HMAC-SHA256 Credential=${CRED},SignedHeaders=host;range;x-amz-date,Signature=${SIG}`],
    [`AWS4-HMAC-SHA256 Credential=${CRED} SignedHeaders=host;range;x-amz-date Signature=${SIG}`],
    [`  AWS4-HMAC-SHA256   Signature=${SIG} ,Credential=${CRED} ,  SignedHeaders=host;range;x-amz-date  `],
    [`AWS4-HMAC-SHA256\tCredential=${CRED},\n SignedHeaders=host;range;x-amz-date,\n Signature=${SIG}`],
  ])('tolerates separator variations: %s', (value) => {
    expect(parseAuthorizationHeader(value)).toEqual(expected)
  })

  it('lowercases SignedHeaders for lookup but keeps the raw list for the canonical request', () => {
    const auth = parseAuthorizationHeader(
      `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=Host;X-Amz-Date, Signature=${SIG}`
    )
    expect(auth.signedHeaders).toEqual(['host', 'x-amz-date'])
    expect(auth.signedHeadersRaw).toBe('Host;X-Amz-Date')
  })

  it.each([
    ['missing Signature', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host`],
    [
      'repeated component',
      `AWS4-HMAC-SHA256 Credential=${CRED}, Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'unknown component',
      `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}, Foo=bar`,
    ],
    ['token without =', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature`],
    [
      'algorithm glued to a component',
      `AWS4-HMAC-SHA256Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`,
    ],
    ['other algorithm', `AWS4-ECDSA-P256-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`],
    [
      'short credential',
      `AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'bad credential date',
      `AWS4-HMAC-SHA256 Credential=AK/2013-05-24/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'impossible date',
      `AWS4-HMAC-SHA256 Credential=AK/20130231/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'wrong service',
      `AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'wrong terminator',
      `AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'empty region',
      `AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request, SignedHeaders=host, Signature=${SIG}`,
    ],
    [
      'empty signed header',
      `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;;x-amz-date, Signature=${SIG}`,
    ],
    ['empty SignedHeaders', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=, Signature=${SIG}`],
  ])('%s → AuthorizationHeaderMalformed', (_, value) => {
    expect(codeOf(() => parseAuthorizationHeader(value))).toBe('AuthorizationHeaderMalformed')
  })

  it('accepts any region, and other services when asked', () => {
    const auth = parseAuthorizationHeader(
      `AWS4-HMAC-SHA256 Credential=AK/20130524/my-own-region/sts/aws4_request, SignedHeaders=host, Signature=${SIG}`,
      ['s3', 'sts']
    )
    expect(auth.credential.region).toBe('my-own-region')
    expect(auth.credential.service).toBe('sts')
  })

  it('names the problem without echoing secrets', () => {
    try {
      parseCredential(
        'AK/20130524/us-east-1/sts/aws4_request',
        ['s3'],
        (d) => new S3Error('AuthorizationHeaderMalformed', d)
      )
    } catch (err) {
      expect((err as S3Error).message).toContain('incorrect service "sts"')
    }
  })
})

describe('parsePresignedQuery', () => {
  const base =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    `&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=${SIG}`

  it('reads every parameter', () => {
    const auth = parsePresignedQuery(
      base + '&X-Amz-Security-Token=tok%2Bx&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD'
    )
    expect(auth).toMatchObject({
      kind: 'query',
      amzDate: '20130524T000000Z',
      expiresSeconds: 86400,
      signedHeaders: ['host'],
      signature: SIG,
      securityToken: 'tok+x',
      contentSha256: 'UNSIGNED-PAYLOAD',
    })
    expect(auth.credential.accessKeyId).toBe('AKIAIOSFODNN7EXAMPLE')
  })

  it.each([
    ['a missing parameter', base.replace(/&X-Amz-Expires=86400/, '')],
    ['another algorithm', base.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256')],
    ['a malformed date', base.replace('20130524T000000Z', '2013-05-24T00:00:00Z')],
    ['expires of zero', base.replace('X-Amz-Expires=86400', 'X-Amz-Expires=0')],
    ['negative expires', base.replace('X-Amz-Expires=86400', 'X-Amz-Expires=-1')],
    ['expires over a week', base.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604801')],
    ['a malformed credential', base.replace('%2Fs3%2F', '%2Fs3%2Fx%2F').replace('aws4_request', 'nope')],
    ['empty signed headers', base.replace('X-Amz-SignedHeaders=host', 'X-Amz-SignedHeaders=')],
  ])('%s → AuthorizationQueryParametersError', (_, query) => {
    expect(codeOf(() => parsePresignedQuery(query))).toBe('AuthorizationQueryParametersError')
  })

  it('accepts the one-week maximum', () => {
    expect(
      parsePresignedQuery(base.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604800')).expiresSeconds
    ).toBe(604800)
  })
})

describe('dates', () => {
  it('parses and formats the ISO 8601 basic form', () => {
    const date = parseAmzDate('20130524T000000Z')!
    expect(date.toISOString()).toBe('2013-05-24T00:00:00.000Z')
    expect(formatAmzDate(date)).toBe('20130524T000000Z')
    expect(formatIsoSeconds(new Date('2024-01-02T03:04:05.678Z'))).toBe('2024-01-02T03:04:05Z')
  })

  it.each(['20130524T000000', '20130524T240000Z', '20130230T000000Z', '2013-05-24T00:00:00Z', ''])(
    'rejects %j',
    (v) => {
      expect(parseAmzDate(v)).toBeUndefined()
    }
  )

  it('prefers x-amz-date and falls back to Date', () => {
    expect(
      readRequestTime(
        new Headers({ 'x-amz-date': '20130524T000000Z', date: 'Sat, 25 May 2013 00:00:00 GMT' })
      ).amzDate
    ).toBe('20130524T000000Z')
    const fromDate = readRequestTime(new Headers({ date: 'Fri, 24 May 2013 00:00:00 GMT' }))
    expect(fromDate.amzDate).toBe('20130524T000000Z')
    expect(fromDate.raw).toBe('Fri, 24 May 2013 00:00:00 GMT')
  })

  it.each<Record<string, string>>([
    {},
    { 'x-amz-date': 'yesterday' },
    { date: 'not a date' },
    { date: 'Fri, 24 May 2013 00:00:00' },
  ])('AccessDenied without a usable date: %j', (headers) => {
    expect(codeOf(() => readRequestTime(new Headers(headers)))).toBe('AccessDenied')
  })
})
