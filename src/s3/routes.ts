/**
 * @module s3/routes
 * Operation → handler. Operations S3 has but this gateway does not serve answer NotImplemented.
 */
import { S3Error } from './errors.js'
import type { Operation } from './operations.js'
import type { Handler } from './handlers/context.js'
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './handlers/bucket.js'
import { listObjectsV1, listObjectsV2 } from './handlers/list.js'
import { deleteObject, deleteObjects, getObject, getObjectTagging, headObject, putObject } from './handlers/object.js'
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './handlers/multipart.js'
import { copyObject, uploadPartCopy } from './handlers/copy.js'

const HANDLERS: Partial<Record<Operation, Handler>> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  DeleteBucket: deleteBucket,
  HeadBucket: headBucket,
  GetBucketLocation: getBucketLocation,
  ListObjects: listObjectsV1,
  ListObjectsV2: listObjectsV2,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  GetObjectTagging: getObjectTagging,
  DeleteObject: deleteObject,
  DeleteObjects: deleteObjects,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  ListMultipartUploads: listMultipartUploads,
  CopyObject: copyObject,
  UploadPartCopy: uploadPartCopy,
}

export function handlerFor(operation: Operation): Handler {
  const handler = HANDLERS[operation]
  if (!handler) throw new S3Error('NotImplemented', `${operation} is not implemented by this gateway.`)
  return handler
}
