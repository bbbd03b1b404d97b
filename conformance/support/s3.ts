/**
 * @module conformance/support/s3
 * Small helpers the cases share: reading SDK bodies, asserting an S3 error (code and status),
 * putting test objects, and the checksums of the repo's test helpers (computed independently of
 * the SDK and of the endpoint under test).
 */
import { createHash, randomBytes } from 'node:crypto'
import { GetObjectCommand, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3'
import { expect } from 'vitest'
import { CHECKSUMS, MiB, md5Base64, md5Hex, sdkError, type ChecksumName } from '../../test/integration/support.js'

export { CHECKSUMS, MiB, md5Base64, md5Hex, sdkError, type ChecksumName }

export const CHECKSUM_NAMES = Object.keys(CHECKSUMS) as ChecksumName[]

/** A quoted ETag, as S3 writes every ETag in headers and XML. */
export const QUOTED_ETAG = /^"[^"]+"$/

export async function bytesOf(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Buffer> {
  if (!body) return Buffer.alloc(0)
  return Buffer.from(await body.transformToByteArray())
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Random bytes: never compressible, never mistaken for framing. */
export const randomData = (length: number): Buffer => randomBytes(length)

/** Asserts that `promise` fails with S3 error `code` (the SDK's error name) and HTTP `status`. */
export async function expectS3Error(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  const err = await sdkError(promise)
  expect({ code: err.name, status: err.status }, err.message).toEqual({ code, status })
}

export async function put(
  client: S3Client,
  bucket: string,
  key: string,
  body: Buffer | string,
  extra: Partial<PutObjectCommandInput> = {}
) {
  return client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }))
}

export async function getBytes(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return bytesOf(out.Body)
}
