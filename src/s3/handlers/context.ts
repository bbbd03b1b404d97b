/**
 * @module s3/handlers/context
 * What every S3 handler receives: the located, authenticated request with its verified body.
 * Handlers are plain async functions (call, deps) → Response, testable without a socket.
 */
import type { PolicyContext } from '../../auth/policy.js'
import type { Principal } from '../../auth/principal.js'
import type { Backend } from '../../backend/types.js'
import { readBoundedText } from '../../platform/body.js'
import type { ByteSource } from '../../platform/types.js'
import { S3Error } from '../errors.js'
import type { Operation } from '../operations.js'

export interface RequestBody {
  /** Decoded, verified-as-consumed bytes. */
  body: ByteSource
  /** Decoded length (x-amz-decoded-content-length for aws-chunked), when the client declared one. */
  contentLength: number | undefined
  /** The verified x-amz-checksum-* to echo, known once the body has been consumed. */
  checksum: Promise<{ algorithm: string; value: string } | undefined>
}

/**
 * Whether the caller's policies allow `action` on `resource`. Denials are recorded for the audit log
 * by the app; handlers decide whether a denial fails the request or one entry of it.
 */
export type Authorize = (action: string, resource: string, context?: PolicyContext) => boolean

export interface S3Call {
  requestId: string
  operation: Operation
  method: string
  bucket?: string
  key?: string
  query: URLSearchParams
  headers: Headers
  body: RequestBody
  principal: Principal
  /** The request-level check is done before the handler runs; this is for checks inside the request. */
  authorize: Authorize
  /** Called when a response body fails mid-stream, before the stream errors: the runtime aborts the connection. */
  onResponseError?: (err: unknown) => void
  /** Wraps a streamed response body so the bytes sent are counted for the audit record. */
  countOut?: (source: ByteSource) => ByteSource
}

export interface HandlerDeps {
  backend: Backend
  region: string
}

export type Handler = (call: S3Call, deps: HandlerDeps) => Promise<Response>

/** The bucket of a bucket-level call (the router guarantees it is set). */
export function bucketOf(call: S3Call): string {
  if (call.bucket === undefined) throw new S3Error('InvalidRequest', 'This operation needs a bucket.')
  return call.bucket
}

export function keyOf(call: S3Call): string {
  if (call.key === undefined) throw new S3Error('InvalidRequest', 'This operation needs an object key.')
  return call.key
}

/** Fails the request with AccessDenied unless the caller may do `action` on `resource`. */
export function requireAccess(call: S3Call, action: string, resource: string): void {
  if (!call.authorize(action, resource)) throw new S3Error('AccessDenied')
}

/** Reads a small request body (XML documents) into text, refusing more than `limit` bytes. */
export function readSmallBody(body: ByteSource, limit: number): Promise<string> {
  return readBoundedText(body, limit, () => new S3Error('MalformedXML', 'The request body is too large.'))
}
