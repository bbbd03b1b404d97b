/**
 * @module s3/handlers/object
 * PutObject, GetObject, HeadObject (ranges, and `partNumber` reads of one part), DeleteObject, DeleteObjects.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 */
import { objectArn } from '../../auth/actions.js'
import { MAX_PART_NUMBER } from '../../backend/multipart.js'
import type { HeadObjectOutput, ObjectMetadata } from '../../backend/types.js'
import { conditionsFromHeaders } from '../conditions.js'
import { S3Error } from '../errors.js'
import { validateObjectKey } from '../names.js'
import { contentRangeHeader, parseRangeHeader, resolveRange } from '../range.js'
import { contentHeadersFromRequest, objectHeaders, xmlResponse } from '../responses.js'
import { childText, children, parseXml } from '../xml.js'
import { bucketOf, keyOf, readSmallBody, type Handler, type S3Call } from './context.js'
import { toReadableStream } from './stream.js'

/** Largest single PUT S3 accepts (5 GiB). */
export const MAX_PUT_SIZE = 5 * 1024 ** 3
/** S3 limits user metadata to 2 KB: UTF-8 bytes of every name and value. */
const MAX_USER_METADATA = 2048
const MAX_DELETE_KEYS = 1000

export function userMetadataFromRequest(headers: Headers): Record<string, string> {
  const user: Record<string, string> = {}
  let size = 0
  const encoder = new TextEncoder()
  headers.forEach((value, name) => {
    if (!name.startsWith('x-amz-meta-')) return
    const short = name.slice('x-amz-meta-'.length)
    user[short] = value
    size += encoder.encode(short).byteLength + encoder.encode(value).byteLength
  })
  if (size > MAX_USER_METADATA) {
    throw new S3Error('MetadataTooLarge', undefined, { fields: { MaxSizeAllowed: MAX_USER_METADATA, Size: size } })
  }
  return user
}

function metadataFromRequest(headers: Headers): ObjectMetadata {
  return { headers: contentHeadersFromRequest(headers), user: userMetadataFromRequest(headers) }
}

/** The object's tags: always none, since tag writes (x-amz-tagging, PutObjectTagging) are refused. */
export const getObjectTagging: Handler = async (call, { backend }) => {
  await backend.headObject(bucketOf(call), keyOf(call))
  return xmlResponse('Tagging', { TagSet: '' })
}

/** Write options the gateway cannot honour; refused rather than silently dropped. */
export function rejectUnsupportedHeaders(headers: Headers): void {
  if (headers.has('x-amz-tagging')) throw new S3Error('NotImplemented', 'Object tagging is not supported by this gateway.')
  if (headers.has('x-amz-server-side-encryption-customer-algorithm')) {
    throw new S3Error('NotImplemented', 'Server-side encryption with customer keys is not supported by this gateway.')
  }
}

function checksumHeaders(checksum: { algorithm: string; value: string } | undefined): Record<string, string> {
  return checksum ? { [`x-amz-checksum-${checksum.algorithm.toLowerCase()}`]: checksum.value } : {}
}

export const putObject: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  validateObjectKey(key)
  rejectUnsupportedHeaders(call.headers)
  const contentLength = call.body.contentLength
  if (contentLength === undefined) throw new S3Error('MissingContentLength')
  if (contentLength > MAX_PUT_SIZE) {
    throw new S3Error('EntityTooLarge', undefined, { fields: { ProposedSize: contentLength, MaxSizeAllowed: MAX_PUT_SIZE } })
  }
  const ifNoneMatch = call.headers.get('if-none-match') ?? undefined
  const ifMatch = call.headers.get('if-match') ?? undefined
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'Only If-None-Match: * is supported for writes.')
  }
  const result = await backend.putObject({
    bucket,
    key,
    body: call.body.body,
    contentLength,
    metadata: metadataFromRequest(call.headers),
    conditions: ifNoneMatch || ifMatch ? { ifNoneMatch, ifMatch } : undefined,
  })
  const checksum = await call.body.checksum
  return new Response(null, { status: 200, headers: { etag: result.etag, ...checksumHeaders(checksum) } })
}

/** A GET/HEAD's `partNumber` (read one part of the object), refused as S3 refuses it. */
function partNumberOf(call: S3Call): number | undefined {
  const text = call.query.get('partNumber')
  if (text === null) return undefined
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : NaN
  if (!(partNumber >= 1 && partNumber <= MAX_PART_NUMBER)) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      fields: { ArgumentName: 'partNumber', ArgumentValue: text },
    })
  }
  if (call.headers.has('range')) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter')
  }
  return partNumber
}

/**
 * Sets the length headers of a GET/HEAD answer and returns its status: 206 with Content-Range for a
 * range or a part, with x-amz-mp-parts-count for a part of an object uploaded in parts. An empty part
 * has no byte range to name, so it is a 200 with no body.
 */
function lengthHeaders(headers: Headers, info: HeadObjectOutput): number {
  if (info.partsCount !== undefined) headers.set('x-amz-mp-parts-count', String(info.partsCount))
  const range = info.range
  if (range && range.end >= range.start) {
    headers.set('content-range', contentRangeHeader(range, info.size))
    headers.set('content-length', String(range.end - range.start + 1))
    return 206
  }
  headers.set('content-length', range ? '0' : String(info.size))
  return 200
}

export const getObject: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  const partNumber = partNumberOf(call)
  const result = await backend.getObject({
    bucket,
    key,
    range: partNumber === undefined ? parseRangeHeader(call.headers.get('range')) : undefined,
    partNumber,
    conditions: conditionsFromHeaders(call.headers),
  })
  const headers = objectHeaders(result, call.query)
  const status = lengthHeaders(headers, result)
  const body = call.countOut ? call.countOut(result.body) : result.body
  return new Response(toReadableStream(body, call.onResponseError), { status, headers })
}

export const headObject: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  const partNumber = partNumberOf(call)
  const info = await backend.headObject(bucket, key, conditionsFromHeaders(call.headers), partNumber)
  const range = partNumber === undefined ? parseRangeHeader(call.headers.get('range')) : undefined
  const shown = range ? { ...info, range: resolveRange(range, info.size) } : info
  const headers = objectHeaders(shown, call.query)
  return new Response(null, { status: lengthHeaders(headers, shown), headers })
}

export const deleteObject: Handler = async (call, { backend }) => {
  await backend.deleteObject(bucketOf(call), keyOf(call))
  return new Response(null, { status: 204 })
}

/** DeleteObjects must carry an integrity header: Content-MD5 or any x-amz-checksum-* (header or trailer). */
function hasIntegrityHeader(headers: Headers): boolean {
  if (headers.has('content-md5') || headers.has('x-amz-trailer')) return true
  let found = false
  headers.forEach((_value, name) => {
    if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type') found = true
  })
  return found
}

export const deleteObjects: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  if (!hasIntegrityHeader(call.headers)) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*')
  }
  const doc = await parseXml(await readSmallBody(call.body.body, 2 * 1024 * 1024), 'Delete')
  const quiet = (childText(doc, 'Quiet') ?? 'false').toLowerCase() === 'true'
  const objects = children(doc, 'Object')
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML')
  const keys = objects.map((o) => {
    const key = childText(o, 'Key')
    if (key === undefined || key === '') throw new S3Error('MalformedXML')
    return key
  })
  // Each key is its own s3:DeleteObject: denied keys are reported in the result, the rest deleted.
  const denied = keys.filter((key) => !call.authorize('s3:DeleteObject', objectArn(bucket, key)))
  const deniedSet = new Set(denied)
  const allowed = keys.filter((key) => !deniedSet.has(key))
  const result = allowed.length > 0 ? await backend.deleteObjects(bucket, allowed) : { deleted: [], errors: [] }
  return xmlResponse('DeleteResult', {
    Deleted: quiet ? [] : result.deleted.map((key) => ({ Key: key })),
    Error: [
      ...denied.map((key) => ({ Key: key, Code: 'AccessDenied', Message: 'Access Denied' })),
      ...result.errors.map((e) => ({ Key: e.key, Code: e.code, Message: e.message })),
    ],
  })
}
