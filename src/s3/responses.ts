/**
 * @module s3/responses
 * Serializers for everything the gateway sends: error XML (the only place it is written), object
 * headers for GET/HEAD, and the listing documents. Pure; handlers build Responses through these.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
import { stripAwsChunked } from '../auth/sigv4/payload.js'
import type { BucketInfo, ContentHeaders, ListedObject, ObjectInfo, ObjectMetadata } from '../backend/types.js'
import { S3Error } from './errors.js'
import { renderXml, type XmlNode } from './xml.js'

export const XML_CONTENT_TYPE = 'application/xml'

export function xmlResponse(root: string, body: XmlNode, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(renderXml(root, body), { status, headers: { 'content-type': XML_CONTENT_TYPE, ...headers } })
}

/** Error XML with RequestId and Resource; HEAD and 304 answers carry no body, as S3 sends them. */
export function renderS3Error(err: S3Error, ctx: { requestId: string; resource?: string; method: string }): Response {
  const headers = new Headers(err.headers)
  const bodyless = ctx.method === 'HEAD' || err.status === 304
  if (bodyless) return new Response(null, { status: err.status, headers })
  headers.set('content-type', XML_CONTENT_TYPE)
  const fields: XmlNode = {}
  for (const [name, value] of Object.entries(err.fields)) fields[name] = String(value)
  const xml = renderXml(
    'Error',
    { Code: err.code, Message: err.message, ...fields, Resource: ctx.resource, RequestId: ctx.requestId },
    false
  )
  return new Response(xml, { status: err.status, headers })
}

const CONTENT_HEADER_NAMES: [keyof ContentHeaders, string][] = [
  ['contentType', 'content-type'],
  ['cacheControl', 'cache-control'],
  ['contentDisposition', 'content-disposition'],
  ['contentEncoding', 'content-encoding'],
  ['contentLanguage', 'content-language'],
  ['expires', 'expires'],
]

/** `response-*` query parameters that override stored headers on GET. */
const RESPONSE_OVERRIDES: [string, string][] = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
]

/** The content headers a PUT stores, read from the request. `aws-chunked` is transport framing, not stored. */
export function contentHeadersFromRequest(headers: Headers): ContentHeaders {
  const out: ContentHeaders = {}
  for (const [field, name] of CONTENT_HEADER_NAMES) {
    const value = headers.get(name)
    if (value !== null) out[field] = value
  }
  const encoding = stripAwsChunked(out.contentEncoding)
  if (encoding === undefined) delete out.contentEncoding
  else out.contentEncoding = encoding
  return out
}

/** Headers for a GET or HEAD answer (without Content-Length/Content-Range, which depend on the range). */
export function objectHeaders(info: ObjectInfo, query?: URLSearchParams): Headers {
  const headers = new Headers()
  headers.set('etag', info.etag)
  headers.set('last-modified', info.lastModified.toUTCString())
  headers.set('accept-ranges', 'bytes')
  writeMetadataHeaders(headers, info.metadata)
  if (!headers.has('content-type')) headers.set('content-type', 'binary/octet-stream')
  if (query) {
    for (const [param, name] of RESPONSE_OVERRIDES) {
      const value = query.get(param)
      if (value !== null) headers.set(name, value)
    }
  }
  return headers
}

function writeMetadataHeaders(headers: Headers, metadata: ObjectMetadata): void {
  for (const [field, name] of CONTENT_HEADER_NAMES) {
    const value = metadata.headers[field]
    if (value !== undefined) headers.set(name, value)
  }
  for (const [name, value] of Object.entries(metadata.user)) headers.set(`x-amz-meta-${name}`, value)
}

export interface Owner {
  id: string
  displayName: string
}

function ownerXml(owner: Owner): XmlNode {
  return { ID: owner.id, DisplayName: owner.displayName }
}

export function listBucketsXml(buckets: BucketInfo[], owner: Owner): Response {
  return xmlResponse('ListAllMyBucketsResult', {
    Owner: ownerXml(owner),
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.creationDate.toISOString() })) },
  })
}

/**
 * Percent-encodes a listing value for `encoding-type=url`: everything but unreserved characters
 * and '/', so both unquote and unquote_plus style decoders read it back exactly.
 */
export function urlEncodeListingValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%2F/g, '/')
}

export interface ListingEcho {
  bucket: string
  prefix: string
  delimiter?: string
  maxKeys: number
  encodingType?: 'url'
  owner?: Owner
}

function contentsXml(objects: ListedObject[], encode: (s: string) => string, owner?: Owner): XmlNode[] {
  return objects.map((o) => ({
    Key: encode(o.key),
    LastModified: o.lastModified.toISOString(),
    ETag: o.etag,
    Size: o.size,
    Owner: owner ? ownerXml(owner) : undefined,
    StorageClass: 'STANDARD',
  }))
}

export function listObjectsV2Xml(
  echo: ListingEcho,
  page: { objects: ListedObject[]; commonPrefixes: string[]; isTruncated: boolean; nextContinuationToken?: string },
  request: { continuationToken?: string; startAfter?: string }
): Response {
  const encode = echo.encodingType === 'url' ? urlEncodeListingValue : (s: string) => s
  return xmlResponse('ListBucketResult', {
    Name: echo.bucket,
    Prefix: encode(echo.prefix),
    Delimiter: echo.delimiter === undefined ? undefined : encode(echo.delimiter),
    MaxKeys: echo.maxKeys,
    EncodingType: echo.encodingType,
    KeyCount: page.objects.length + page.commonPrefixes.length,
    ContinuationToken: request.continuationToken,
    NextContinuationToken: page.isTruncated ? page.nextContinuationToken : undefined,
    StartAfter: request.startAfter === undefined ? undefined : encode(request.startAfter),
    IsTruncated: page.isTruncated,
    Contents: contentsXml(page.objects, encode, echo.owner),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  })
}

export function listObjectsV1Xml(
  echo: ListingEcho,
  page: { objects: ListedObject[]; commonPrefixes: string[]; isTruncated: boolean; nextMarker?: string },
  marker: string
): Response {
  const encode = echo.encodingType === 'url' ? urlEncodeListingValue : (s: string) => s
  // S3 returns NextMarker only when a delimiter was given; clients otherwise resume after the last key.
  const nextMarker = page.isTruncated && echo.delimiter !== undefined ? page.nextMarker : undefined
  return xmlResponse('ListBucketResult', {
    Name: echo.bucket,
    Prefix: encode(echo.prefix),
    Marker: encode(marker),
    NextMarker: nextMarker === undefined ? undefined : encode(nextMarker),
    MaxKeys: echo.maxKeys,
    Delimiter: echo.delimiter === undefined ? undefined : encode(echo.delimiter),
    EncodingType: echo.encodingType,
    IsTruncated: page.isTruncated,
    Contents: contentsXml(page.objects, encode, echo.owner),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  })
}
