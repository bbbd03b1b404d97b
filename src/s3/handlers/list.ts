/**
 * @module s3/handlers/list
 * ListObjects (v1) and ListObjectsV2: query validation and echo; paging is the backend's.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 */
import { S3Error } from '../errors.js'
import { listObjectsV1Xml, listObjectsV2Xml, type ListingEcho } from '../responses.js'
import { bucketOf, type Handler, type S3Call } from './context.js'

const DEFAULT_MAX_KEYS = 1000

function parseMaxKeys(value: string | null): number {
  if (value === null || value === '') return DEFAULT_MAX_KEYS
  if (!/^\d+$/.test(value)) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      fields: { ArgumentName: 'maxKeys', ArgumentValue: value },
    })
  }
  return Math.min(Number(value), DEFAULT_MAX_KEYS)
}

function listingEcho(call: S3Call, bucket: string, withOwner: boolean): ListingEcho {
  const encodingType = call.query.get('encoding-type')
  if (encodingType !== null && encodingType !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      fields: { ArgumentName: 'encoding-type', ArgumentValue: encodingType },
    })
  }
  const delimiter = call.query.get('delimiter')
  return {
    bucket,
    prefix: call.query.get('prefix') ?? '',
    delimiter: delimiter === null || delimiter === '' ? undefined : delimiter,
    maxKeys: parseMaxKeys(call.query.get('max-keys')),
    encodingType: encodingType === 'url' ? 'url' : undefined,
    owner: withOwner ? { id: call.principal.user, displayName: call.principal.user } : undefined,
  }
}

export const listObjectsV2: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const echo = listingEcho(call, bucket, call.query.get('fetch-owner') === 'true')
  const continuationToken = call.query.get('continuation-token') ?? undefined
  if (continuationToken === '') throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect')
  const startAfter = call.query.get('start-after') ?? undefined
  const page = await backend.listObjects({
    bucket,
    prefix: echo.prefix || undefined,
    delimiter: echo.delimiter,
    maxKeys: echo.maxKeys,
    startAfter: startAfter || undefined,
    continuationToken,
  })
  return listObjectsV2Xml(echo, page, { continuationToken, startAfter })
}

export const listObjectsV1: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const echo = listingEcho(call, bucket, true)
  const marker = call.query.get('marker') ?? ''
  const page = await backend.listObjects({
    bucket,
    prefix: echo.prefix || undefined,
    delimiter: echo.delimiter,
    maxKeys: echo.maxKeys,
    marker,
  })
  return listObjectsV1Xml(echo, page, marker)
}
