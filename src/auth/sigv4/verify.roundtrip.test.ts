/**
 * Round trips: requests signed by independent signers (@aws-sdk/client-s3 as a real client,
 * @smithy/signature-v4 and the S3 presigner directly, aws4fetch), verified by this module.
 */
import { Readable } from 'node:stream'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { S3RequestPresigner, getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { SignatureV4 } from '@smithy/signature-v4'
import type { HttpRequest } from '@smithy/types'
import { AwsV4Signer } from 'aws4fetch'
import { describe, expect, it } from 'vitest'
import { nodePlatform } from '../../platform/node.js'
import { S3Error } from '../../s3/errors.js'
import { NodeSha256, collect, drain, sha256Hex, sliced } from '../../../test/fixtures/sigv4/helpers.js'
import { hasSigV4, verifyPayload, verifyRequest, type CredentialLookup, type SigV4Request } from './index.js'

const AK = 'AKIDROUNDTRIP'
const SK = 'secret/with+odd=chars'
const HOST = 's3.example.test'
const lookup: CredentialLookup = async (id, token) =>
  id === AK ? { accessKeyId: AK, secretAccessKey: SK, principal: { user: 'rt', token } } : undefined

/** RFC 3986 encoding of one component, as the AWS SDKs write paths and query strings. */
function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

function encodeKeyPath(bucket: string, key: string): string {
  return '/' + bucket + '/' + key.split('/').map(rfc3986).join('/')
}

function serializeQuery(query: Record<string, string | string[] | null | undefined>): string {
  const parts: string[] = []
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (value === null) parts.push(rfc3986(name))
    else for (const v of Array.isArray(value) ? value : [value]) parts.push(rfc3986(name) + '=' + rfc3986(v))
  }
  return parts.join('&')
}

/** Header values as a Node server hands them over: the UTF-8 bytes read as Latin-1. */
function wireHeaders(headers: Record<string, string> | Headers): Headers {
  const out = new Headers()
  const entries = headers instanceof Headers ? [...headers] : Object.entries(headers)
  for (const [name, value] of entries) out.append(name, Buffer.from(value, 'utf8').toString('latin1'))
  return out
}

async function failure(promise: Promise<unknown>): Promise<S3Error> {
  try {
    await promise
  } catch (err) {
    if (err instanceof S3Error) return err
    throw err
  }
  throw new Error('expected an S3Error')
}

const KEYS = [
  'plain.txt',
  'a b',
  'a+b',
  'a%b',
  '100%',
  '%41',
  'ü/ñ/日本語.txt',
  'tilde~key',
  'dir//double',
  'a/./b/../c',
  "quote'(x)*!",
  'semi;colon,comma:at@',
  'eq=amp&q?hash#',
  'emoji 😀',
  'trailing/',
  '$dollar[brackets]{braces}',
  'tab\there',
]

describe('@smithy/signature-v4 (S3 settings: no path normalization, single encoding)', () => {
  const signer = new SignatureV4({
    service: 's3',
    region: 'eu-central-1',
    credentials: { accessKeyId: AK, secretAccessKey: SK },
    sha256: NodeSha256,
    uriEscapePath: false,
  })
  const now = new Date('2024-03-01T12:00:00Z')

  async function sign(
    request: Omit<HttpRequest, 'protocol' | 'hostname'>,
    signingDate = now
  ): Promise<HttpRequest> {
    return signer.sign({ protocol: 'https:', hostname: HOST, ...request }, { signingDate })
  }

  for (const key of KEYS) {
    it(`key ${JSON.stringify(key)}`, async () => {
      const path = encodeKeyPath('bucket', key)
      const body = Buffer.from('body of ' + key)
      const signed = await sign({
        method: 'PUT',
        path,
        query: {},
        headers: {
          host: HOST,
          'x-amz-content-sha256': sha256Hex(body),
          'content-length': String(body.length),
        },
      })
      const req: SigV4Request = {
        method: 'PUT',
        rawPath: path,
        rawQuery: '',
        headers: wireHeaders(signed.headers),
      }
      const verified = await verifyRequest(req, { lookup, platform: nodePlatform, now })
      expect(verified.path).toBe('/bucket/' + key)
      expect(verified.scope.region).toBe('eu-central-1')
      const payload = verifyPayload(sliced(body, 3), verified, req, nodePlatform)
      expect(await collect(payload.body)).toEqual(body)
      expect(payload.contentLength).toBe(body.length)
    })
  }

  it('query parameters with reserved characters, repeats and empty values', async () => {
    const query = {
      'list-type': '2',
      prefix: 'a b+c/ü',
      delimiter: '/',
      'continuation-token': 'x/y=z+',
      'start-after': '~',
      uploads: '',
    }
    const signed = await sign({
      method: 'GET',
      path: '/bucket',
      query,
      headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    })
    const req = {
      method: 'GET',
      rawPath: '/bucket',
      rawQuery: serializeQuery(query),
      headers: wireHeaders(signed.headers),
    }
    await expect(verifyRequest(req, { lookup, platform: nodePlatform, now })).resolves.toMatchObject({
      payload: 'unsigned',
      path: '/bucket',
    })
  })

  it('metadata headers with non-ASCII values and extra whitespace, and a session token', async () => {
    const withToken = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: AK, secretAccessKey: SK, sessionToken: 'token+/=' },
      sha256: NodeSha256,
      uriEscapePath: false,
    })
    const signed = await withToken.sign(
      {
        method: 'PUT',
        protocol: 'https:',
        hostname: HOST,
        path: '/bucket/k',
        query: {},
        headers: {
          host: HOST,
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          'x-amz-meta-title': 'Grüße  aus   Köln ☃',
          'x-amz-meta-spaces': '  padded  ',
          'content-type': 'text/plain; charset=utf-8',
        },
      },
      { signingDate: now }
    )
    const req = { method: 'PUT', rawPath: '/bucket/k', rawQuery: '', headers: wireHeaders(signed.headers) }
    const verified = await verifyRequest(req, { lookup, platform: nodePlatform, now })
    expect(verified.sessionToken).toBe('token+/=')
    expect(verified.credential.principal).toEqual({ user: 'rt', token: 'token+/=' })
  })

  it('a key that is not valid UTF-8 verifies but is refused as InvalidURI', async () => {
    const signed = await sign({
      method: 'GET',
      path: '/bucket/%FF',
      query: {},
      headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    })
    const req = { method: 'GET', rawPath: '/bucket/%FF', rawQuery: '', headers: wireHeaders(signed.headers) }
    expect((await failure(verifyRequest(req, { lookup, platform: nodePlatform, now }))).code).toBe(
      'InvalidURI'
    )
  })

  describe("'+' in the raw path", () => {
    async function signedFor(canonicalPath: string) {
      const signed = await sign({
        method: 'GET',
        path: canonicalPath,
        query: {},
        headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      })
      return wireHeaders(signed.headers)
    }

    it('reads it as a literal plus when that is what was signed', async () => {
      const req = {
        method: 'GET',
        rawPath: '/bucket/a+b',
        rawQuery: '',
        headers: await signedFor('/bucket/a%2Bb'),
      }
      expect((await verifyRequest(req, { lookup, platform: nodePlatform, now })).path).toBe('/bucket/a+b')
    })

    it('falls back to a space when the client signed %20 (s3cmd style)', async () => {
      const req = {
        method: 'GET',
        rawPath: '/bucket/a+b+c',
        rawQuery: '',
        headers: await signedFor('/bucket/a%20b%20c'),
      }
      expect((await verifyRequest(req, { lookup, platform: nodePlatform, now })).path).toBe('/bucket/a b c')
    })

    it('does not apply the fallback to an encoded %2B', async () => {
      const req = {
        method: 'GET',
        rawPath: '/bucket/a%2Bb',
        rawQuery: '',
        headers: await signedFor('/bucket/a%20b'),
      }
      expect((await failure(verifyRequest(req, { lookup, platform: nodePlatform, now }))).code).toBe(
        'SignatureDoesNotMatch'
      )
    })

    it('tries the query readings too', async () => {
      const signed = await sign({
        method: 'GET',
        path: '/bucket',
        query: { prefix: 'a b' },
        headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      })
      const req = {
        method: 'GET',
        rawPath: '/bucket',
        rawQuery: 'prefix=a+b',
        headers: wireHeaders(signed.headers),
      }
      await expect(verifyRequest(req, { lookup, platform: nodePlatform, now })).resolves.toBeTruthy()
    })
  })

  describe('negative cases', () => {
    async function signedGet() {
      const signed = await sign({
        method: 'GET',
        path: '/bucket/key',
        query: { versionId: '1' },
        headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', range: 'bytes=0-1' },
      })
      return {
        method: 'GET',
        rawPath: '/bucket/key',
        rawQuery: 'versionId=1',
        headers: wireHeaders(signed.headers),
      }
    }

    it('verifies unaltered', async () => {
      await expect(
        verifyRequest(await signedGet(), { lookup, platform: nodePlatform, now })
      ).resolves.toBeTruthy()
    })

    it.each([
      ['path', (r: SigV4Request) => ({ ...r, rawPath: '/bucket/kez' })],
      ['query', (r: SigV4Request) => ({ ...r, rawQuery: 'versionId=2' })],
      ['extra query parameter', (r: SigV4Request) => ({ ...r, rawQuery: 'versionId=1&acl' })],
      ['header', (r: SigV4Request) => (r.headers.set('range', 'bytes=0-2'), r)],
      ['method', (r: SigV4Request) => ({ ...r, method: 'DELETE' })],
    ])('altered %s → SignatureDoesNotMatch', async (_, alter) => {
      const err = await failure(
        verifyRequest(alter(await signedGet()), { lookup, platform: nodePlatform, now })
      )
      expect(err.code).toBe('SignatureDoesNotMatch')
    })

    it('wrong secret → SignatureDoesNotMatch', async () => {
      const wrong: CredentialLookup = async (id) => ({
        accessKeyId: id,
        secretAccessKey: SK + 'x',
        principal: null,
      })
      expect(
        (await failure(verifyRequest(await signedGet(), { lookup: wrong, platform: nodePlatform, now }))).code
      ).toBe('SignatureDoesNotMatch')
    })

    it.each([16, -16])('skew of %i minutes → RequestTimeTooSkewed', async (minutes) => {
      const later = new Date(now.getTime() + minutes * 60_000)
      expect(
        (await failure(verifyRequest(await signedGet(), { lookup, platform: nodePlatform, now: later }))).code
      ).toBe('RequestTimeTooSkewed')
    })
  })
})

describe('S3RequestPresigner (the SDK presigner)', () => {
  const presigner = new S3RequestPresigner({
    credentials: { accessKeyId: AK, secretAccessKey: SK },
    region: 'us-west-2',
    sha256: NodeSha256,
  })
  const signedAt = new Date('2024-03-01T12:00:00Z')

  async function presign(
    key: string,
    expiresIn: number,
    query: Record<string, string> = {}
  ): Promise<SigV4Request> {
    const path = encodeKeyPath('bucket', key)
    const signed = await presigner.presign(
      { method: 'GET', protocol: 'https:', hostname: HOST, path, query, headers: { host: HOST } },
      { expiresIn, signingDate: signedAt }
    )
    return {
      method: 'GET',
      rawPath: path,
      rawQuery: serializeQuery(signed.query as Record<string, string>),
      headers: wireHeaders(signed.headers),
    }
  }

  for (const key of KEYS) {
    it(`key ${JSON.stringify(key)}`, async () => {
      const req = await presign(key, 3600, {
        'response-content-disposition': 'attachment; filename="x y.txt"',
      })
      expect(hasSigV4(req)).toBe(true)
      const verified = await verifyRequest(req, {
        lookup,
        platform: nodePlatform,
        now: new Date(signedAt.getTime() + 1000),
      })
      expect(verified).toMatchObject({ presigned: true, payload: 'unsigned', path: '/bucket/' + key })
    })
  }

  it('expires exactly after X-Amz-Expires', async () => {
    const req = await presign('k', 60)
    await expect(
      verifyRequest(req, { lookup, platform: nodePlatform, now: new Date(signedAt.getTime() + 60_000) })
    ).resolves.toBeTruthy()
    const err = await failure(
      verifyRequest(req, { lookup, platform: nodePlatform, now: new Date(signedAt.getTime() + 61_000) })
    )
    expect(err.message).toBe('Request has expired')
  })

  it('a URL signed with a clock 20 minutes fast is not yet valid', async () => {
    const req = await presign('k', 3600)
    const err = await failure(
      verifyRequest(req, { lookup, platform: nodePlatform, now: new Date(signedAt.getTime() - 20 * 60_000) })
    )
    expect(err.message).toBe('Request is not yet valid')
  })

  it('a week-long URL still works days later (no skew rule)', async () => {
    const req = await presign('k', 604800)
    await expect(
      verifyRequest(req, {
        lookup,
        platform: nodePlatform,
        now: new Date(signedAt.getTime() + 6 * 86400_000),
      })
    ).resolves.toBeTruthy()
  })
})

describe('aws4fetch AwsV4Signer', () => {
  const datetime = '20240301T120000Z'
  const now = new Date('2024-03-01T12:00:00Z')

  async function sign(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string; signQuery?: boolean } = {}
  ) {
    const signer = new AwsV4Signer({
      url,
      accessKeyId: AK,
      secretAccessKey: SK,
      service: 's3',
      region: 'ap-southeast-2',
      datetime,
      ...init,
    })
    const signed = await signer.sign()
    const headers = wireHeaders(signed.headers)
    headers.set('host', signed.url.host)
    return {
      method: signed.method,
      rawPath: signed.url.pathname,
      rawQuery: signed.url.search.slice(1),
      headers,
    }
  }

  // aws4fetch reads '+' in the path as a space (and resolves dot segments through URL), so keys that
  // depend on either are written the way aws4fetch users must write them.
  const keys = KEYS.filter(
    (k) => !k.includes('+') && !k.includes('/./') && !k.includes('%') && !k.includes('#') && !k.includes('?')
  )

  for (const key of keys) {
    it(`key ${JSON.stringify(key)} (header auth)`, async () => {
      const req = await sign(`https://${HOST}${encodeKeyPath('bucket', key)}?x-id=GetObject`)
      const verified = await verifyRequest(req, { lookup, platform: nodePlatform, now })
      expect(verified.path).toBe('/bucket/' + key)
      expect(verified.payload).toBe('unsigned')
    })

    it(`key ${JSON.stringify(key)} (presigned)`, async () => {
      const req = await sign(`https://${HOST}${encodeKeyPath('bucket', key)}`, { signQuery: true })
      const verified = await verifyRequest(req, {
        lookup,
        platform: nodePlatform,
        now: new Date(now.getTime() + 86400_000),
      })
      expect(verified).toMatchObject({ presigned: true, path: '/bucket/' + key })
    })
  }

  it("'+' written in the URL is verified as a space, as aws4fetch signed it", async () => {
    const req = await sign(`https://${HOST}/bucket/a+b`)
    expect((await verifyRequest(req, { lookup, platform: nodePlatform, now })).path).toBe('/bucket/a b')
  })

  it('%2B in the URL is a plus', async () => {
    const req = await sign(`https://${HOST}/bucket/a%2Bb`)
    expect((await verifyRequest(req, { lookup, platform: nodePlatform, now })).path).toBe('/bucket/a+b')
  })

  it('a body with a signed hash and a user metadata header', async () => {
    const body = 'hello aws4fetch'
    const req = await sign(`https://${HOST}/bucket/obj`, {
      method: 'PUT',
      body,
      headers: {
        'x-amz-content-sha256': sha256Hex(body),
        'x-amz-meta-note': 'ünïcode',
        'content-length': String(body.length),
      },
    })
    const verified = await verifyRequest(req, { lookup, platform: nodePlatform, now })
    expect(verified.payload).toBe('sha256')
    const payload = verifyPayload(sliced(Buffer.from(body), 1), verified, req, nodePlatform)
    expect((await collect(payload.body)).toString()).toBe(body)
    const tampered = verifyPayload(sliced(Buffer.from(body.toUpperCase()), 4), verified, req, nodePlatform)
    const result = await drain(tampered.body)
    expect((result.error as S3Error).code).toBe('XAmzContentSHA256Mismatch')
    expect(result.bytes).toBeLessThan(body.length)
  })

  it('query parameters', async () => {
    const req = await sign(`https://${HOST}/bucket?list-type=2&prefix=a%20b%2Fc&delimiter=%2F&max-keys=10`)
    await expect(verifyRequest(req, { lookup, platform: nodePlatform, now })).resolves.toBeTruthy()
  })

  it('presigned URL altered after signing → SignatureDoesNotMatch', async () => {
    const req = await sign(`https://${HOST}/bucket/key`, { signQuery: true })
    const altered = { ...req, rawQuery: req.rawQuery.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604800') }
    expect((await failure(verifyRequest(altered, { lookup, platform: nodePlatform, now }))).code).toBe(
      'SignatureDoesNotMatch'
    )
  })
})

describe('@aws-sdk/client-s3 requests, captured before they leave the client', () => {
  interface Captured {
    req: SigV4Request
    body: Buffer
  }

  function capturingClient(captured: Captured[], extra: Record<string, unknown> = {}): S3Client {
    return new S3Client({
      region: 'us-east-1',
      endpoint: `https://${HOST}`,
      forcePathStyle: true,
      credentials: { accessKeyId: AK, secretAccessKey: SK },
      ...extra,
      requestHandler: {
        async handle(request: HttpRequest) {
          const parts: Buffer[] = []
          const body = request.body as unknown
          if (body && typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
            for await (const piece of body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(piece))
          } else if (typeof body === 'string' || body instanceof Uint8Array) {
            parts.push(Buffer.from(body))
          }
          captured.push({
            req: {
              method: request.method,
              rawPath: request.path,
              rawQuery: serializeQuery(request.query as Record<string, string>),
              headers: wireHeaders(request.headers),
            },
            body: Buffer.concat(parts),
          })
          return {
            response: {
              statusCode: 200,
              headers: { etag: '"0"' },
              body: Readable.from([
                Buffer.from('<?xml version="1.0"?><ListBucketResult></ListBucketResult>'),
              ]),
            },
          }
        },
      } as never,
    })
  }

  async function verifyCaptured({ req, body }: Captured, pieceSize = 5) {
    const verified = await verifyRequest(req, { lookup, platform: nodePlatform, now: new Date() })
    const payload = verifyPayload(sliced(body, pieceSize), verified, req, nodePlatform)
    const decoded = await collect(payload.body)
    return { verified, payload, decoded, checksum: await payload.checksum }
  }

  const algorithms = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const

  for (const algorithm of algorithms) {
    it(`PutObject with a known-length body and ${algorithm} (checksum header, signed payload)`, async () => {
      const captured: Captured[] = []
      await capturingClient(captured).send(
        new PutObjectCommand({
          Bucket: 'bucket',
          Key: 'dir/a b+c ü.txt',
          Body: 'hello world',
          ChecksumAlgorithm: algorithm,
        })
      )
      const { verified, decoded, checksum } = await verifyCaptured(captured[0]!)
      expect(verified.path).toBe('/bucket/dir/a b+c ü.txt')
      expect(verified.payload).toBe('sha256')
      expect(decoded.toString()).toBe('hello world')
      expect(checksum?.algorithm).toBe(algorithm)
      expect(checksum?.value).toBe(captured[0]!.req.headers.get(`x-amz-checksum-${algorithm.toLowerCase()}`))
    })

    it(`PutObject with a stream body and ${algorithm} (aws-chunked, unsigned payload, checksum trailer)`, async () => {
      const captured: Captured[] = []
      const data = Buffer.alloc(70_000, 'z')
      await capturingClient(captured).send(
        new PutObjectCommand({
          Bucket: 'bucket',
          Key: 'stream',
          Body: Readable.from([data.subarray(0, 30_000), data.subarray(30_000)]),
          ContentLength: data.length,
          ChecksumAlgorithm: algorithm,
        })
      )
      const { verified, payload, decoded, checksum } = await verifyCaptured(captured[0]!, 1000)
      expect(verified.payload).toBe('streaming-unsigned-trailer')
      expect(payload.contentLength).toBe(data.length)
      expect(decoded).toEqual(data)
      expect(checksum?.algorithm).toBe(algorithm)

      // The same upload with one byte of object data changed in transit fails with BadDigest, and the
      // consumer never sees the whole object.
      const body = Buffer.from(captured[0]!.body)
      const at = body.indexOf('zzzz') + 100
      body[at] = 'y'.charCodeAt(0)
      const tampered = verifyPayload(sliced(body, 1000), verified, captured[0]!.req, nodePlatform)
      const result = await drain(tampered.body)
      expect((result.error as S3Error).code).toBe('BadDigest')
      expect(result.bytes).toBeLessThan(data.length)
      await expect(tampered.checksum).rejects.toBeInstanceOf(S3Error)
    })
  }

  it('ListObjectsV2 and GetObject with Range', async () => {
    const captured: Captured[] = []
    const client = capturingClient(captured)
    await client.send(
      new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a b+c/', Delimiter: '/', StartAfter: '~x' })
    )
    await client
      .send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k', Range: 'bytes=0-9' }))
      .catch(() => undefined)
    expect(captured).toHaveLength(2)
    for (const c of captured)
      await expect(
        verifyRequest(c.req, { lookup, platform: nodePlatform, now: new Date() })
      ).resolves.toBeTruthy()
  })

  it('getSignedUrl for GetObject and PutObject', async () => {
    const client = capturingClient([])
    for (const command of [
      new GetObjectCommand({
        Bucket: 'bucket',
        Key: 'photos/été 2024/a+b.jpg',
        ResponseContentType: 'image/jpeg',
      }),
      new PutObjectCommand({ Bucket: 'bucket', Key: 'up load.bin' }),
    ]) {
      const url = await getSignedUrl(client, command as never, { expiresIn: 900 })
      const afterHost = url.slice(url.indexOf(HOST) + HOST.length)
      const q = afterHost.indexOf('?')
      const req = {
        method: command instanceof GetObjectCommand ? 'GET' : 'PUT',
        rawPath: afterHost.slice(0, q),
        rawQuery: afterHost.slice(q + 1),
        headers: new Headers({ host: HOST }),
      }
      const verified = await verifyRequest(req, { lookup, platform: nodePlatform, now: new Date() })
      expect(verified.presigned).toBe(true)
      expect(verified.path).toBe(
        command instanceof GetObjectCommand ? '/bucket/photos/été 2024/a+b.jpg' : '/bucket/up load.bin'
      )
    }
  })
})
