/**
 * @module auth/actions
 * The IAM action and resource each S3 operation needs, per AWS's "Actions, resources, and condition
 * keys for Amazon S3". Multipart steps other than Abort and ListParts are authorized as
 * s3:PutObject, as in S3. Two operations need more than the one check returned here, made by their
 * handlers once the request is parsed: CopyObject/UploadPartCopy also need s3:GetObject on the copy
 * source, and DeleteObjects needs s3:DeleteObject on each key (so it has no request-level check).
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
 */
import type { Operation } from '../s3/operations.js'
import type { AccessRequest } from './policy.js'

export function bucketArn(bucket: string): string {
  return `arn:aws:s3:::${bucket}`
}

export function objectArn(bucket: string, key: string): string {
  return `arn:aws:s3:::${bucket}/${key}`
}

/** The check for one request, or 'per-key' for DeleteObjects (its handler checks each key). */
export function requiredAccess(
  operation: Operation,
  bucket: string | undefined,
  key: string | undefined,
  query: URLSearchParams
): AccessRequest | 'per-key' {
  const onBucket = (action: string): AccessRequest => ({ action, resource: bucketArn(bucket ?? '') })
  const onObject = (action: string): AccessRequest => ({ action, resource: objectArn(bucket ?? '', key ?? '') })
  switch (operation) {
    case 'ListBuckets':
      // ListAllMyBuckets has no resource type: policies grant it on "*".
      return { action: 's3:ListAllMyBuckets', resource: '*' }
    case 'CreateBucket':
      return onBucket('s3:CreateBucket')
    case 'DeleteBucket':
      return onBucket('s3:DeleteBucket')
    case 'HeadBucket':
      return onBucket('s3:ListBucket')
    case 'GetBucketLocation':
      return onBucket('s3:GetBucketLocation')
    case 'ListObjects':
    case 'ListObjectsV2':
      // s3:prefix is the request's prefix, '' when absent (a policy allows whole-bucket listings with "").
      return { ...onBucket('s3:ListBucket'), context: { 's3:prefix': query.get('prefix') ?? '' } }
    case 'ListMultipartUploads':
      return onBucket('s3:ListBucketMultipartUploads')
    case 'GetObject':
    case 'HeadObject':
      return onObject('s3:GetObject')
    case 'GetObjectTagging':
      return onObject('s3:GetObjectTagging')
    case 'PutObject':
    case 'CopyObject':
    case 'CreateMultipartUpload':
    case 'UploadPart':
    case 'UploadPartCopy':
    case 'CompleteMultipartUpload':
      return onObject('s3:PutObject')
    case 'AbortMultipartUpload':
      return onObject('s3:AbortMultipartUpload')
    case 'ListParts':
      return onObject('s3:ListMultipartUploadParts')
    case 'DeleteObject':
      return onObject('s3:DeleteObject')
    case 'DeleteObjects':
      return 'per-key'
  }
}
