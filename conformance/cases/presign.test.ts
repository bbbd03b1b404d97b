/**
 * @module conformance/cases/presign
 * Presigned URLs (SigV4 query authentication): GET and PUT through a URL, expiry, and tampering.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, fetchPresigned } from '../support/http.js'
import { getBytes, put, randomData } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('presign')
  await put(s3, bucket, 'p/file name+1.txt', 'presigned content')
})
afterAll(() => s3.destroy())

function presignGet(key: string, expiresIn: number, signingDate?: Date): Promise<string> {
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn, signingDate })
}

area('presign', () => {
  conformanceCase('presign.get', 'a presigned GET fetches the object without credentials', async () => {
    const res = await fetchPresigned(await presignGet('p/file name+1.txt', 300))
    expect(res.status).toBe(200)
    expect(res.text).toBe('presigned content')
  })

  conformanceCase('presign.put', 'a presigned PUT stores the body sent to it', async () => {
    const data = randomData(70_000)
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'p/uploaded.bin' }), { expiresIn: 300 })
    const res = await fetchPresigned(url, 'PUT', data)
    expect(res.status, res.text.slice(0, 200)).toBe(200)
    expect((await getBytes(s3, bucket, 'p/uploaded.bin')).equals(data)).toBe(true)
  })

  conformanceCase('presign.expired', 'a presigned URL used after X-Amz-Date + X-Amz-Expires: 403 AccessDenied', async () => {
    const url = await presignGet('p/file name+1.txt', 60, new Date(Date.now() - 5 * 60_000))
    const res = await fetchPresigned(url)
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'AccessDenied' })
  })

  conformanceCase('presign.tampered', 'a presigned URL with another key or a changed signature: 403 SignatureDoesNotMatch', async () => {
    await put(s3, bucket, 'p/other.txt', 'other')
    const url = await presignGet('p/file name+1.txt', 300)
    const otherKey = url.replace(/file%20name%2B1\.txt/, 'other.txt')
    expect(otherKey).not.toBe(url)
    const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)![1]!
    const otherSig = url.replace(sig, (sig[0] === '0' ? '1' : '0') + sig.slice(1))
    for (const bad of [otherKey, otherSig]) {
      const res = await fetchPresigned(bad)
      expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
    }
  })

  conformanceCase('presign.method-mismatch', 'a URL presigned for GET used for PUT: 403 SignatureDoesNotMatch, nothing written', async () => {
    const url = await presignGet('p/file name+1.txt', 300)
    const res = await fetchPresigned(url, 'PUT', Buffer.from('overwrite'))
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
    expect((await getBytes(s3, bucket, 'p/file name+1.txt')).toString()).toBe('presigned content')
  })
})
