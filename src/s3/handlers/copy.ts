/**
 * @module s3/handlers/copy
 * CopyObject and UploadPartCopy: the copy-source header, the metadata directive and the
 * copy-source conditions. CopyObject is the backend's (a server-side copy; for encrypted buckets a
 * byte copy with a re-wrapped key). UploadPartCopy reads the source range through the backend and
 * uploads it as a part: with encryption the part's bytes must be encrypted for the new upload
 * (segment AADs bind object id and part number), so they cannot be copied as they are stored.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
 */
import { checkSourceConditions } from '../../backend/copy.js'
import { MAX_PART_NUMBER, MAX_PART_SIZE, noSuchUpload } from '../../backend/multipart.js'
import type { ByteRange, ObjectMetadata } from '../../backend/types.js'
import { conditionsFromHeaders } from '../conditions.js'
import { S3Error } from '../errors.js'
import { validateBucketName, validateObjectKey } from '../names.js'
import { contentHeadersFromRequest, xmlResponse } from '../responses.js'
import { objectArn } from '../../auth/actions.js'
import { bucketOf, keyOf, readSmallBody, requireAccess, type Handler, type S3Call } from './context.js'
import { userMetadataFromRequest } from './object.js'

export interface CopySource {
  bucket: string
  key: string
}

function invalidCopySource(message: string, value: string): S3Error {
  return new S3Error('InvalidArgument', message, { fields: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value } })
}

/**
 * Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded (a '+' is a plus, as in a
 * path). Only the null version exists here: the gateway has no versioning.
 */
export function parseCopySource(header: string): CopySource {
  const q = header.indexOf('?')
  const path = q === -1 ? header : header.slice(0, q)
  const query = new URLSearchParams(q === -1 ? '' : header.slice(q + 1))
  const versionId = query.get('versionId')
  if (versionId !== null && versionId !== 'null') throw invalidCopySource('Invalid version id specified', header)
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    throw invalidCopySource('Invalid copy source encoding', header)
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1)
  const slash = decoded.indexOf('/')
  if (slash <= 0 || slash === decoded.length - 1) {
    throw invalidCopySource('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', header)
  }
  const source = { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) }
  validateBucketName(source.bucket)
  validateObjectKey(source.key)
  return source
}

/**
 * The copy source, which the caller must be allowed to read: a copy is a read of the source and a
 * write of the destination (the write is checked before the handler runs).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html#API_CopyObject_RequestSyntax
 */
function copySourceOf(call: S3Call): CopySource {
  const header = call.headers.get('x-amz-copy-source')
  if (!header) throw invalidCopySource('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', '')
  const source = parseCopySource(header)
  requireAccess(call, 's3:GetObject', objectArn(source.bucket, source.key))
  return source
}

export const copyObject: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  validateObjectKey(key)
  if ((call.headers.get('x-amz-tagging-directive') ?? 'COPY').toUpperCase() === 'REPLACE') {
    throw new S3Error('NotImplemented', 'Object tagging is not supported by this gateway.')
  }
  const source = copySourceOf(call)
  const directive = (call.headers.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase()
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
      fields: { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive },
    })
  }
  if (directive === 'COPY' && source.bucket === bucket && source.key === key) {
    throw new S3Error(
      'InvalidRequest',
      'This copy request is illegal because it is trying to copy an object to itself without changing the ' +
        "object's metadata, storage class, website redirect location or encryption attributes."
    )
  }
  await readSmallBody(call.body.body, 64 * 1024)
  const metadata: ObjectMetadata | undefined =
    directive === 'REPLACE'
      ? { headers: contentHeadersFromRequest(call.headers), user: userMetadataFromRequest(call.headers) }
      : undefined
  const sourceConditions = conditionsFromHeaders(call.headers, 'x-amz-copy-source-')
  const result = await backend.copyObject({ source, bucket, key, metadata, sourceConditions })
  return xmlResponse('CopyObjectResult', { LastModified: result.lastModified.toISOString(), ETag: result.etag })
}

/** `bytes=first-last` within an object of `size` bytes (both ends required, as S3 requires). */
export function parseCopySourceRange(header: string, size: number): ByteRange {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim())
  const first = match ? Number(match[1]) : NaN
  const last = match ? Number(match[2]) : NaN
  if (!match || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      fields: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    })
  }
  if (last >= size) {
    throw new S3Error('InvalidRange', `Range specified is not valid for source object of size: ${size}`, {
      fields: { ActualObjectSize: size, RangeRequested: header },
    })
  }
  return { start: first, end: last }
}

export const uploadPartCopy: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  const text = call.query.get('partNumber') ?? ''
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : NaN
  if (!(partNumber >= 1 && partNumber <= MAX_PART_NUMBER)) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      fields: { ArgumentName: 'partNumber', ArgumentValue: text },
    })
  }
  const uploadId = call.query.get('uploadId')
  if (!uploadId) throw noSuchUpload('')
  const source = copySourceOf(call)
  await readSmallBody(call.body.body, 64 * 1024)
  const info = await backend.headObject(source.bucket, source.key)
  checkSourceConditions(conditionsFromHeaders(call.headers, 'x-amz-copy-source-'), info.etag, info.lastModified)
  const rangeHeader = call.headers.get('x-amz-copy-source-range')
  const range = rangeHeader === null ? undefined : parseCopySourceRange(rangeHeader, info.size)
  const length = range ? range.end - range.start + 1 : info.size
  if (length > MAX_PART_SIZE) {
    throw new S3Error('EntityTooLarge', undefined, { fields: { ProposedSize: length, MaxSizeAllowed: MAX_PART_SIZE } })
  }
  // Pinned to the version just checked; an empty source has no range to ask for.
  const got = await backend.getObject({
    bucket: source.bucket,
    key: source.key,
    range: range ?? (length > 0 ? { start: 0, end: length - 1 } : undefined),
    conditions: { ifMatch: info.etag },
  })
  const result = await backend.uploadPart({ bucket, key, uploadId, partNumber, body: got.body, contentLength: length })
  return xmlResponse('CopyPartResult', { LastModified: new Date().toISOString(), ETag: result.etag })
}
