/**
 * @module backend/copy
 * Rules shared by every backend's CopyObject: the copy-source conditions, which S3 evaluates with
 * GET's precedence (If-Match over If-Unmodified-Since, If-None-Match over If-Modified-Since) but
 * answers with 412 PreconditionFailed where a GET would say 304.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
 */
import { checkReadConditions } from '../s3/conditions.js'
import { S3Error, isS3Error } from '../s3/errors.js'
import type { Conditions } from './types.js'

/** S3's limit for a CopyObject source (larger objects are copied with UploadPartCopy). */
export const MAX_COPY_SOURCE_SIZE = 5 * 1024 ** 3

export function checkSourceConditions(conditions: Conditions | undefined, etag: string, lastModified: Date): void {
  try {
    checkReadConditions(conditions, etag, lastModified)
  } catch (err) {
    if (isS3Error(err) && err.code === 'NotModified') throw new S3Error('PreconditionFailed')
    throw err
  }
}

export function checkCopySourceSize(size: number): void {
  if (size > MAX_COPY_SOURCE_SIZE) {
    throw new S3Error(
      'InvalidRequest',
      `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_SOURCE_SIZE}`
    )
  }
}
