/**
 * @module s3/operations
 * Which S3 operation a request is, from its method, whether it names a bucket and a key, and its
 * subresource query parameters. Requests for subresources we do not serve (acl, tagging, …)
 * resolve to an `Unsupported` marker so they answer NotImplemented instead of being mistaken for
 * a plain GET/PUT.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
 */

export type Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'DeleteObjects'
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'ListMultipartUploads'
  | 'GetObjectTagging'

export type Resolved = { operation: Operation } | { unsupported: string } | { methodNotAllowed: true }

/** Subresources S3 has that this gateway does not serve (the request must not fall through to a plain op). */
const UNSERVED_SUBRESOURCES = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention',
  'select', 'tagging', 'torrent', 'versioning', 'versions', 'website', 'renameObject', 'session',
  'metadataTable', 'metadataConfiguration',
]

export function resolveOperation(method: string, bucket: string | undefined, key: string | undefined, query: URLSearchParams, headers: Headers): Resolved {
  // Tags cannot be written through the gateway, so reading them is answerable: aws-cli reads the
  // source's tags before copying a large object between buckets.
  if (method.toUpperCase() === 'GET' && bucket !== undefined && key !== undefined && query.has('tagging')) {
    return { operation: 'GetObjectTagging' }
  }
  const unserved = UNSERVED_SUBRESOURCES.find((name) => query.has(name))
  if (unserved) return { unsupported: unserved }
  const m = method.toUpperCase()
  if (bucket === undefined) {
    return m === 'GET' ? { operation: 'ListBuckets' } : { methodNotAllowed: true }
  }
  if (key === undefined) {
    switch (m) {
      case 'GET':
        if (query.has('location')) return { operation: 'GetBucketLocation' }
        if (query.has('uploads')) return { operation: 'ListMultipartUploads' }
        if (query.get('list-type') === '2') return { operation: 'ListObjectsV2' }
        return { operation: 'ListObjects' }
      case 'HEAD':
        return { operation: 'HeadBucket' }
      case 'PUT':
        return { operation: 'CreateBucket' }
      case 'DELETE':
        return { operation: 'DeleteBucket' }
      case 'POST':
        if (query.has('delete')) return { operation: 'DeleteObjects' }
        return { unsupported: 'POST on a bucket (browser-form uploads)' }
      default:
        return { methodNotAllowed: true }
    }
  }
  const uploadId = query.has('uploadId')
  switch (m) {
    case 'GET':
      return { operation: uploadId ? 'ListParts' : 'GetObject' }
    case 'HEAD':
      return { operation: 'HeadObject' }
    case 'PUT':
      if (uploadId && query.has('partNumber')) {
        return { operation: headers.has('x-amz-copy-source') ? 'UploadPartCopy' : 'UploadPart' }
      }
      return { operation: headers.has('x-amz-copy-source') ? 'CopyObject' : 'PutObject' }
    case 'DELETE':
      return { operation: uploadId ? 'AbortMultipartUpload' : 'DeleteObject' }
    case 'POST':
      if (query.has('uploads')) return { operation: 'CreateMultipartUpload' }
      if (uploadId) return { operation: 'CompleteMultipartUpload' }
      return { unsupported: 'POST on an object' }
    default:
      return { methodNotAllowed: true }
  }
}
