/**
 * @module conformance/cases/sigv4
 * Every SigV4 payload form (signed single chunk, UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER) with each checksum
 * algorithm (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): the object is stored as the decoded bytes and
 * the checksum is echoed; a wrong checksum is 400 BadDigest and stores nothing; a tampered chunk or
 * trailer signature is 403. Bodies are framed by the repo's aws-chunked test encoder.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */
import { afterAll, beforeAll, expect } from 'vitest'
import { sha256Hex } from '../../test/integration/support.js'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, signedRequest } from '../support/http.js'
import { PAYLOAD_FORMS, putInForm, type PayloadForm } from '../support/payload.js'
import { CHECKSUMS, CHECKSUM_NAMES, randomData } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('sigv4')
})
afterAll(() => s3.destroy())

async function objectStatus(key: string): Promise<number> {
  return (await signedRequest({ method: 'HEAD', bucket, key })).status
}

area('sigv4', () => {
  for (const form of Object.keys(PAYLOAD_FORMS) as PayloadForm[]) {
    for (const algorithm of CHECKSUM_NAMES) {
      const alg = algorithm.toLowerCase()
      conformanceCase(`sigv4.${form}.${alg}`, `${form} PutObject with an ${algorithm} checksum: stored as sent, checksum echoed`, async () => {
        const data = randomData(150 * 1024 + 17)
        const key = `forms/${form}/${alg}`
        const res = await putInForm(bucket, { form, key, data, algorithm })
        expect(res.status, res.text.slice(0, 300)).toBe(200)
        expect(res.headers[`x-amz-checksum-${alg}`]).toBe(CHECKSUMS[algorithm](data))
        const get = await signedRequest({ method: 'GET', bucket, key })
        expect(get.status).toBe(200)
        expect(get.body.length).toBe(data.length)
        expect(get.body.equals(data)).toBe(true)
      })
    }
    conformanceCase(`sigv4.${form}.bad-checksum`, `${form} PutObject with a wrong CRC32: 400 BadDigest, nothing stored`, async () => {
      const data = randomData(100 * 1024)
      const key = `forms/${form}/bad`
      const res = await putInForm(bucket, { form, key, data, algorithm: 'CRC32', checksum: CHECKSUMS.CRC32(Buffer.from('other data')) })
      expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'BadDigest' })
      expect(await objectStatus(key)).toBe(404)
    })
  }

  conformanceCase('sigv4.streaming-signed.tampered-chunk', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD with a forged chunk signature: 403 SignatureDoesNotMatch', async () => {
    const key = 'forms/tampered-chunk'
    const res = await putInForm(bucket, { form: 'streaming-signed', key, data: randomData(200 * 1024), algorithm: 'CRC32', tamperChunk: true })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
    expect(await objectStatus(key)).toBe(404)
  })

  conformanceCase('sigv4.streaming-signed-trailer.tampered-trailer', 'signed trailer with a forged x-amz-trailer-signature: 403 SignatureDoesNotMatch', async () => {
    const key = 'forms/tampered-trailer'
    const res = await putInForm(bucket, { form: 'streaming-signed-trailer', key, data: randomData(10 * 1024), algorithm: 'SHA256', tamperTrailer: true })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code: 'SignatureDoesNotMatch' })
    expect(await objectStatus(key)).toBe(404)
  })

  conformanceCase('sigv4.signed-payload.hash-mismatch', 'x-amz-content-sha256 that is not the body\'s SHA-256: 400 XAmzContentSHA256Mismatch', async () => {
    const key = 'forms/hash-mismatch'
    const res = await signedRequest({ method: 'PUT', bucket, key, body: Buffer.from('actual body'), payloadHash: sha256Hex('claimed body') })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'XAmzContentSHA256Mismatch' })
    expect(await objectStatus(key)).toBe(404)
  })
})
