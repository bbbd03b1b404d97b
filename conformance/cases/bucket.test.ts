/**
 * @module conformance/cases/bucket
 * Bucket operations: CreateBucket, HeadBucket, DeleteBucket, ListBuckets, GetBucketLocation and their
 * documented errors (BucketAlreadyOwnedByYou, BucketNotEmpty, NoSuchBucket, InvalidBucketName).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { afterAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, signedRequest } from '../support/http.js'
import { expectS3Error, put, sdkError } from '../support/s3.js'
import { bucketName, freshBucket, s3Client, target } from '../support/target.js'

const s3 = s3Client()
afterAll(() => s3.destroy())

area('bucket', () => {
  conformanceCase('bucket.create-head-delete', 'CreateBucket, HeadBucket 200, DeleteBucket 204, then HeadBucket 404', async () => {
    const bucket = await freshBucket('chd')
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }))
    expect(head.$metadata.httpStatusCode).toBe(200)
    const del = await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
    expect(del.$metadata.httpStatusCode).toBe(204)
    // HEAD errors have no body, so the SDK names them by status.
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: bucket })), 'NotFound', 404)
  })

  conformanceCase('bucket.list', 'ListBuckets lists a new bucket with its creation date and the owner', async () => {
    const bucket = await freshBucket('list')
    const out = await s3.send(new ListBucketsCommand({}))
    const mine = out.Buckets?.find((b) => b.Name === bucket)
    expect(mine, `${bucket} in ListBuckets`).toBeDefined()
    expect(mine!.CreationDate).toBeInstanceOf(Date)
    expect(Math.abs(mine!.CreationDate!.getTime() - Date.now())).toBeLessThan(15 * 60_000)
    expect(out.Owner?.ID).toBeTruthy()
  })

  conformanceCase('bucket.location', 'GetBucketLocation: empty for us-east-1, else the region', async () => {
    const bucket = await freshBucket('loc')
    const out = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }))
    const region = target().region
    if (region === 'us-east-1') expect(out.LocationConstraint ?? '').toBe('')
    else expect(out.LocationConstraint).toBe(region)
  })

  conformanceCase('bucket.already-owned', 'CreateBucket of a bucket you own: 409 BucketAlreadyOwnedByYou', async () => {
    const bucket = await freshBucket('own')
    // AWS documents one exception: in us-east-1 a re-create of your own bucket answers 200 (legacy).
    const region = target().region
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      if (region !== 'us-east-1') throw new Error('re-creating an owned bucket succeeded outside us-east-1')
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
      if (!e.$metadata) throw err
      expect({ code: e.name, status: e.$metadata.httpStatusCode }).toEqual({ code: 'BucketAlreadyOwnedByYou', status: 409 })
    }
  })

  conformanceCase('bucket.not-empty', 'DeleteBucket of a bucket with an object: 409 BucketNotEmpty, bucket kept', async () => {
    const bucket = await freshBucket('full')
    await put(s3, bucket, 'keep.txt', 'x')
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: bucket })), 'BucketNotEmpty', 409)
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
    expect(list.Contents?.map((o) => o.Key)).toEqual(['keep.txt'])
  })

  conformanceCase('bucket.no-such-bucket', 'ListObjectsV2, DeleteBucket, PutObject on a missing bucket: 404 NoSuchBucket', async () => {
    const missing = bucketName('missing')
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: missing })), 'NoSuchBucket', 404)
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: missing })), 'NoSuchBucket', 404)
    await expectS3Error(put(s3, missing, 'k', 'x'), 'NoSuchBucket', 404)
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: missing })), 'NotFound', 404)
  })

  conformanceCase('bucket.invalid-name', 'CreateBucket with an invalid name: 400 InvalidBucketName', async () => {
    // Raw requests: an SDK may refuse such names before sending them.
    for (const name of ['ab', 'Bad_Bucket_Name', '-starts-with-hyphen', 'a'.repeat(64), 'two..dots', '192.168.5.4']) {
      const res = await signedRequest({ method: 'PUT', bucket: name })
      expect({ name, status: res.status, code: errorCode(res) }).toEqual({ name, status: 400, code: 'InvalidBucketName' })
      if (res.status < 300) await s3.send(new DeleteBucketCommand({ Bucket: name })).catch(() => {})
    }
    expect((await sdkError(s3.send(new HeadBucketCommand({ Bucket: 'Bad_Bucket_Name' })))).status).not.toBe(200)
  })
})
