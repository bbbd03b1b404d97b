/**
 * @module s3/handlers/bucket
 * ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation.
 */
import { listBucketsXml, xmlResponse } from '../responses.js'
import { parseXml } from '../xml.js'
import { bucketOf, readSmallBody, type Handler } from './context.js'

export const listBuckets: Handler = async (call, { backend }) => {
  const buckets = await backend.listBuckets()
  return listBucketsXml(buckets, { id: call.principal.user, displayName: call.principal.user })
}

/**
 * The body's LocationConstraint is validated as XML but otherwise not binding: every bucket lives
 * in the gateway's one upstream region, and clients send all sorts here (aws-cli without a
 * region sends "aws-global").
 */
export const createBucket: Handler = async (call, { backend }) => {
  const bucket = bucketOf(call)
  const text = await readSmallBody(call.body.body, 64 * 1024)
  if (text.trim() !== '') await parseXml(text, 'CreateBucketConfiguration')
  await backend.createBucket(bucket)
  return new Response(null, { status: 200, headers: { location: `/${bucket}` } })
}

export const deleteBucket: Handler = async (call, { backend }) => {
  await backend.deleteBucket(bucketOf(call))
  return new Response(null, { status: 204 })
}

export const headBucket: Handler = async (call, { backend, region }) => {
  await backend.headBucket(bucketOf(call))
  return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': region } })
}

/** Answers the gateway's own region (the upstream's may differ and is not the client's business). */
export const getBucketLocation: Handler = async (call, { backend, region }) => {
  await backend.headBucket(bucketOf(call))
  return xmlResponse('LocationConstraint', { _: region === 'us-east-1' ? '' : region })
}
