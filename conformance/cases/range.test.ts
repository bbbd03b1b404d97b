/**
 * @module conformance/cases/range
 * Range GETs (RFC 9110 byte ranges as S3 serves them): first, last, suffix, open-ended, clamped,
 * unsatisfiable (416 InvalidRange), several ranges (S3 serves one range only) and HEAD with a range.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Range)
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, signedRequest } from '../support/http.js'
import { put, randomData } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
const SIZE = 100
const data = randomData(SIZE)
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('range')
  await put(s3, bucket, 'r/100.bin', data)
})
afterAll(() => s3.destroy())

async function ranged(range: string, method = 'GET') {
  return signedRequest({ method, bucket, key: 'r/100.bin', headers: { range } })
}

/** A 206 answer carrying exactly bytes first..last of the object. */
async function expectPartial(range: string, first: number, last: number): Promise<void> {
  const res = await ranged(range)
  expect({ range, status: res.status, contentRange: res.headers['content-range'] }).toEqual({
    range,
    status: 206,
    contentRange: `bytes ${first}-${last}/${SIZE}`,
  })
  expect(Number(res.headers['content-length'])).toBe(last - first + 1)
  expect(res.body.equals(data.subarray(first, last + 1))).toBe(true)
}

area('range', () => {
  conformanceCase('range.first-bytes', 'bytes=0-9: 206, Content-Range bytes 0-9/100, 10 bytes', () => expectPartial('bytes=0-9', 0, 9))
  conformanceCase('range.single-byte', 'bytes=0-0 and bytes=99-99: one byte each', async () => {
    await expectPartial('bytes=0-0', 0, 0)
    await expectPartial('bytes=99-99', 99, 99)
  })
  conformanceCase('range.middle', 'bytes=10-49: the 40 bytes in between', () => expectPartial('bytes=10-49', 10, 49))
  conformanceCase('range.suffix', 'bytes=-10: the last 10 bytes; bytes=-1000: the whole object as 206', async () => {
    await expectPartial('bytes=-10', 90, 99)
    await expectPartial('bytes=-1000', 0, 99)
  })
  conformanceCase('range.open-ended', 'bytes=90-: from byte 90 to the end', () => expectPartial('bytes=90-', 90, 99))
  conformanceCase('range.clamped', 'bytes=50-1000: the end is clamped to the object (206, bytes 50-99/100)', () =>
    expectPartial('bytes=50-1000', 50, 99)
  )
  conformanceCase('range.unsatisfiable', 'bytes=100-200 and bytes=1000-: 416 InvalidRange', async () => {
    for (const range of ['bytes=100-200', 'bytes=1000-']) {
      const res = await ranged(range)
      expect({ range, status: res.status, code: errorCode(res) }).toEqual({ range, status: 416, code: 'InvalidRange' })
    }
  })
  conformanceCase('range.multiple-ranges', 'bytes=0-1,5-6: S3 serves no multi-range; the whole object, 200', async () => {
    const res = await ranged('bytes=0-1,5-6')
    expect(res.status).toBe(200)
    expect(res.body.equals(data)).toBe(true)
  })
  conformanceCase('range.head', 'HEAD with bytes=10-19: 206, Content-Length 10, Content-Range, no body', async () => {
    const res = await ranged('bytes=10-19', 'HEAD')
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes 10-19/${SIZE}`)
    expect(Number(res.headers['content-length'])).toBe(10)
    expect(res.body.length).toBe(0)
    const full = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'r/100.bin' }))
    expect(full.ContentLength).toBe(SIZE)
  })
  conformanceCase('range.accept-ranges', 'GET and HEAD advertise Accept-Ranges: bytes', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await signedRequest({ method, bucket, key: 'r/100.bin' })
      expect(res.headers['accept-ranges']).toBe('bytes')
    }
  })
})
