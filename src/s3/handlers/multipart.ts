/**
 * @module s3/handlers/multipart
 * CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
 * ListMultipartUploads: request parsing and validation, and the XML S3 answers with. The rules of
 * the upload itself (part order, ETags, sizes) are the backend's (backend/multipart.ts).
 *
 * CompleteMultipartUpload answers only once the backend has finished, so every failure is a real
 * 4xx/5xx status: S3's "200 then an <Error> body" form is never needed (client-compat BH-38).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
 */
import { MAX_LIST_PAGE, MAX_PART_NUMBER, MAX_PART_SIZE, noSuchUpload } from '../../backend/multipart.js'
import type { CompletedPart, ObjectMetadata } from '../../backend/types.js'
import { S3Error } from '../errors.js'
import { validateObjectKey } from '../names.js'
import { contentHeadersFromRequest, urlEncodeListingValue, xmlResponse } from '../responses.js'
import { childText, children, parseXml } from '../xml.js'
import { bucketOf, keyOf, readSmallBody, type S3Call, type Handler } from './context.js'
import { rejectUnsupportedHeaders, userMetadataFromRequest } from './object.js'

/** 10000 parts with checksums stay well under this. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024

function uploadIdOf(call: S3Call): string {
  const uploadId = call.query.get('uploadId')
  if (!uploadId) throw noSuchUpload(uploadId ?? '')
  return uploadId
}

function invalidArgument(name: string, value: string, message: string): S3Error {
  return new S3Error('InvalidArgument', message, { fields: { ArgumentName: name, ArgumentValue: value } })
}

/** A non-negative integer query parameter (default when absent), at most `max`. */
function integerParam(call: S3Call, name: string, fallback: number, max: number): number {
  const value = call.query.get(name)
  if (value === null || value === '') return fallback
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalidArgument(name, value, `Provided ${name} not an integer or within integer range`)
  }
  return Math.min(Number(value), max)
}

function encodingOf(call: S3Call): (value: string) => string {
  const encodingType = call.query.get('encoding-type')
  if (encodingType !== null && encodingType !== 'url') {
    throw invalidArgument('encoding-type', encodingType, 'Invalid Encoding Method specified in Request')
  }
  return encodingType === 'url' ? urlEncodeListingValue : (value) => value
}

function owner(call: S3Call) {
  return { ID: call.principal.user, DisplayName: call.principal.user }
}

export const createMultipartUpload: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  validateObjectKey(key)
  rejectUnsupportedHeaders(call.headers)
  // The request has no body worth keeping, but it must be consumed for its signature to be verified.
  await readSmallBody(call.body.body, 64 * 1024)
  const metadata: ObjectMetadata = { headers: contentHeadersFromRequest(call.headers), user: userMetadataFromRequest(call.headers) }
  const uploadId = await backend.createMultipartUpload(bucket, key, metadata)
  return xmlResponse('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId })
}

export const uploadPart: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  const text = call.query.get('partNumber') ?? ''
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : NaN
  if (!(partNumber >= 1 && partNumber <= MAX_PART_NUMBER)) {
    throw invalidArgument('partNumber', text, 'Part number must be an integer between 1 and 10000, inclusive')
  }
  const uploadId = uploadIdOf(call)
  const contentLength = call.body.contentLength
  if (contentLength === undefined) throw new S3Error('MissingContentLength')
  if (contentLength > MAX_PART_SIZE) {
    throw new S3Error('EntityTooLarge', undefined, { fields: { ProposedSize: contentLength, MaxSizeAllowed: MAX_PART_SIZE } })
  }
  const result = await backend.uploadPart({ bucket, key, uploadId, partNumber, body: call.body.body, contentLength })
  const checksum = await call.body.checksum
  const headers: Record<string, string> = { etag: result.etag }
  if (checksum) headers[`x-amz-checksum-${checksum.algorithm.toLowerCase()}`] = checksum.value
  return new Response(null, { status: 200, headers })
}

/** The part list of a CompleteMultipartUpload body, in the client's order (the backend checks it). */
export async function parseCompleteBody(text: string): Promise<CompletedPart[]> {
  const doc = await parseXml(text, 'CompleteMultipartUpload')
  const parts = children(doc, 'Part').map((part) => {
    const number = childText(part, 'PartNumber')?.trim()
    const etag = childText(part, 'ETag')
    if (number === undefined || !/^\d{1,9}$/.test(number) || etag === undefined) throw new S3Error('MalformedXML')
    return { partNumber: Number(number), etag: etag.trim() }
  })
  if (parts.length === 0) throw new S3Error('MalformedXML')
  return parts
}

/** Where the object is, as S3's Location element gives it (path style unless the Host names the bucket). */
function locationOf(call: S3Call, bucket: string, key: string): string {
  const host = call.headers.get('host') ?? 'localhost'
  const proto = call.headers.get('x-forwarded-proto') === 'https' ? 'https' : 'http'
  const path = urlEncodeListingValue(key)
  return host.startsWith(`${bucket}.`) ? `${proto}://${host}/${path}` : `${proto}://${host}/${bucket}/${path}`
}

export const completeMultipartUpload: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  const uploadId = uploadIdOf(call)
  const parts = await parseCompleteBody(await readSmallBody(call.body.body, MAX_COMPLETE_BODY))
  const ifNoneMatch = call.headers.get('if-none-match') ?? undefined
  const ifMatch = call.headers.get('if-match') ?? undefined
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'Only If-None-Match: * is supported for writes.')
  }
  const result = await backend.completeMultipartUpload({
    bucket,
    key,
    uploadId,
    parts,
    conditions: ifNoneMatch || ifMatch ? { ifNoneMatch, ifMatch } : undefined,
  })
  return xmlResponse('CompleteMultipartUploadResult', {
    Location: locationOf(call, bucket, key),
    Bucket: bucket,
    Key: key,
    ETag: result.etag,
  })
}

export const abortMultipartUpload: Handler = async (call, { backend }) => {
  await backend.abortMultipartUpload({ bucket: bucketOf(call), key: keyOf(call), uploadId: uploadIdOf(call) })
  return new Response(null, { status: 204 })
}

export const listParts: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const key = keyOf(call)
  const uploadId = uploadIdOf(call)
  const encode = encodingOf(call)
  const maxParts = integerParam(call, 'max-parts', MAX_LIST_PAGE, MAX_LIST_PAGE)
  const marker = integerParam(call, 'part-number-marker', 0, Number.MAX_SAFE_INTEGER)
  const page = await backend.listParts({ bucket, key, uploadId, maxParts, partNumberMarker: marker })
  const next = page.nextPartNumberMarker ?? page.parts.at(-1)?.partNumber
  return xmlResponse('ListPartsResult', {
    Bucket: bucket,
    Key: encode(key),
    UploadId: uploadId,
    PartNumberMarker: marker,
    NextPartNumberMarker: next,
    MaxParts: maxParts,
    IsTruncated: page.isTruncated,
    Part: page.parts.map((part) => ({
      PartNumber: part.partNumber,
      LastModified: part.lastModified.toISOString(),
      ETag: part.etag,
      Size: part.size,
    })),
    Initiator: owner(call),
    Owner: owner(call),
    StorageClass: 'STANDARD',
    EncodingType: call.query.get('encoding-type') === 'url' ? 'url' : undefined,
  })
}

export const listMultipartUploads: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const encode = encodingOf(call)
  const maxUploads = integerParam(call, 'max-uploads', MAX_LIST_PAGE, MAX_LIST_PAGE)
  const prefix = call.query.get('prefix') ?? ''
  const delimiter = call.query.get('delimiter') || undefined
  const keyMarker = call.query.get('key-marker') ?? ''
  const uploadIdMarker = call.query.get('upload-id-marker') ?? ''
  const page = await backend.listMultipartUploads({
    bucket,
    prefix: prefix || undefined,
    delimiter,
    keyMarker: keyMarker || undefined,
    uploadIdMarker: keyMarker ? uploadIdMarker || undefined : undefined,
    maxUploads,
  })
  return xmlResponse('ListMultipartUploadsResult', {
    Bucket: bucket,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: page.nextKeyMarker === undefined ? undefined : encode(page.nextKeyMarker),
    NextUploadIdMarker: page.nextUploadIdMarker,
    Delimiter: delimiter === undefined ? undefined : encode(delimiter),
    Prefix: encode(prefix),
    MaxUploads: maxUploads,
    IsTruncated: page.isTruncated,
    EncodingType: call.query.get('encoding-type') === 'url' ? 'url' : undefined,
    Upload: page.uploads.map((upload) => ({
      Key: encode(upload.key),
      UploadId: upload.uploadId,
      Initiator: owner(call),
      Owner: owner(call),
      StorageClass: 'STANDARD',
      Initiated: upload.initiated.toISOString(),
    })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  })
}
