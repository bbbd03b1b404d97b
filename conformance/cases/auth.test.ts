/**
 * @module conformance/cases/auth
 * Authentication errors every S3 endpoint must give: wrong secret (SignatureDoesNotMatch), unknown
 * key (InvalidAccessKeyId), clock skew beyond 15 minutes (RequestTimeTooSkewed), anonymous requests
 * to private resources (AccessDenied); and that an SDK with a wrong clock recovers from the skew answer.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, pathOf, rawRequest, signedRequest } from '../support/http.js'
import { expectS3Error, put } from '../support/s3.js'
import { freshBucket, s3Client, target } from '../support/target.js'

const s3 = s3Client()
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('auth')
  await put(s3, bucket, 'a.txt', 'auth')
})
afterAll(() => s3.destroy())

area('auth', () => {
  conformanceCase('auth.wrong-secret', 'a request signed with the wrong secret: 403 SignatureDoesNotMatch', async () => {
    const t = target()
    const wrong = s3Client({ credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey.slice(1) + 'x' } })
    await expectS3Error(wrong.send(new ListObjectsV2Command({ Bucket: bucket })), 'SignatureDoesNotMatch', 403)
    const res = await signedRequest({ method: 'GET', bucket, key: 'a.txt', secretAccessKey: 'not-the-secret' })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
    wrong.destroy()
  })

  conformanceCase('auth.unknown-key', 'a request with an access key the endpoint does not know: 403 InvalidAccessKeyId', async () => {
    const unknown = s3Client({ credentials: { accessKeyId: 'AKIAIOSFODNN7UNKNOWN', secretAccessKey: 'x'.repeat(40) } })
    await expectS3Error(unknown.send(new ListObjectsV2Command({ Bucket: bucket })), 'InvalidAccessKeyId', 403)
    unknown.destroy()
  })

  for (const [label, minutes] of [['past', -16], ['future', 16]] as const) {
    conformanceCase(`auth.skew-${label}`, `a header-signed request dated ${Math.abs(minutes)} minutes in the ${label}: 403 RequestTimeTooSkewed`, async () => {
      const date = new Date(Date.now() + minutes * 60_000)
      const res = await signedRequest({ method: 'GET', bucket, key: 'a.txt', date })
      expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'RequestTimeTooSkewed' })
      // The error's time fields are bh-18's; the Date header is what SDKs correct their clock from.
      expect(res.headers.date).toBeTruthy()
    })
  }

  conformanceCase('auth.skew-within-window', 'a request dated 10 minutes off (inside the 15-minute window) is accepted', async () => {
    const res = await signedRequest({ method: 'GET', bucket, key: 'a.txt', date: new Date(Date.now() - 10 * 60_000) })
    expect(res.status).toBe(200)
  })

  conformanceCase('auth.anonymous', 'unsigned requests to a private bucket and object: 403 AccessDenied', async () => {
    for (const path of [pathOf(bucket), pathOf(bucket, 'a.txt')]) {
      const res = await rawRequest({ method: 'GET', path })
      expect({ path, status: res.status, code: errorCode(res) }).toEqual({ path, status: 403, code: 'AccessDenied' })
    }
    const put = await rawRequest({ method: 'PUT', path: pathOf(bucket, 'anon.txt'), body: Buffer.from('anon') })
    expect({ status: put.status, code: errorCode(put) }).toEqual({ status: 403, code: 'AccessDenied' })
    // …and stored nothing.
    const head = await signedRequest({ method: 'HEAD', bucket, key: 'anon.txt' })
    expect(head.status).toBe(404)
  })

  conformanceCase('auth.sdk-clock-correction', 'an SDK whose clock is an hour off learns the time from the skew answer (ServerTime/Date) and then succeeds', async () => {
    const skewed = s3Client({ systemClockOffset: -3600_000, maxAttempts: 3 })
    // The SDK retries at once only when its host clock itself is off; either way it keeps the
    // server's time from the answer, so the next call is signed with the right date.
    await skewed.send(new ListObjectsV2Command({ Bucket: bucket })).catch((err: { name?: string }) => {
      expect(err.name).toBe('RequestTimeTooSkewed')
    })
    expect(Math.abs(skewed.config.systemClockOffset ?? 0)).toBeLessThan(5 * 60_000)
    const out = await skewed.send(new ListObjectsV2Command({ Bucket: bucket }))
    expect(out.Contents?.map((o) => o.Key)).toEqual(['a.txt'])
    skewed.destroy()
  })
})
