/**
 * @module conformance/support/http
 * Hand-built requests to the target, for cases where every header and byte matters (aws-chunked
 * bodies, skewed dates, multi-range, anonymous calls): one HTTP/1.1 exchange over http or https (the
 * target's CA honoured), signed with @smithy/signature-v4 for the target's region. The path and query
 * encoding and the aws-chunked encoder come from the repo's test helpers.
 */
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { SignatureV4 } from '@smithy/signature-v4'
import { NodeSha256, sha256Hex, signingKeyOf, type ChunkSigner } from '../../test/fixtures/sigv4/helpers.js'
import { encodeQuery, objectPath, sendBody, xmlValue, xmlValues } from '../../test/integration/support.js'
import { target, targetHttpsAgent } from './target.js'

export { objectPath, xmlValue, xmlValues }

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text: string
}

export interface RawRequest {
  method: string
  /** Encoded path, sent exactly as given. */
  path: string
  /** Encoded query without '?'. */
  query?: string
  headers?: OutgoingHttpHeaders
  body?: Buffer | AsyncIterable<Uint8Array>
}

function endpointUrl(): URL {
  return new URL(target().endpoint)
}

/** host[:port] as a client puts it in the Host header (default ports left out). */
export function hostHeader(): string {
  return endpointUrl().host
}

/** One exchange over a fresh connection; never throws for HTTP errors. */
export function rawRequest(req: RawRequest): Promise<RawResponse> {
  const url = endpointUrl()
  const https = url.protocol === 'https:'
  const base = url.pathname.replace(/\/+$/, '')
  return new Promise((resolve, reject) => {
    const options = {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (https ? 443 : 80),
      method: req.method,
      path: base + req.path + (req.query ? '?' + req.query : ''),
      headers: req.headers,
      agent: https ? (targetHttpsAgent(false) ?? undefined) : false,
      setHost: !Object.keys(req.headers ?? {}).some((h) => h.toLowerCase() === 'host'),
    }
    const r = https ? httpsRequest(options) : httpRequest(options)
    r.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') })
      })
      res.on('error', reject)
    })
    r.on('error', reject)
    sendBody(r, req.body)
  })
}

export interface SignOptions {
  method: string
  bucket?: string
  key?: string
  query?: Record<string, string>
  headers?: Record<string, string>
  /** x-amz-content-sha256; default: the SHA-256 of `body` (or of nothing). */
  payloadHash?: string
  body?: Buffer
  date?: Date
  accessKeyId?: string
  secretAccessKey?: string
}

export interface Signed extends RawRequest {
  headers: Record<string, string>
  /** What aws-chunked chunk and trailer signatures chain from. */
  chunkSigner: ChunkSigner
}

/** The encoded path of a bucket or object (RFC 3986 per segment, as the SDKs send it). */
export function pathOf(bucket?: string, key?: string): string {
  return bucket === undefined ? '/' : objectPath(bucket, key)
}

/** A header-signed request (Authorization: AWS4-HMAC-SHA256) for the target, ready to send. */
export async function signRequest(opts: SignOptions): Promise<Signed> {
  const t = target()
  const accessKeyId = opts.accessKeyId ?? t.accessKeyId
  const secretAccessKey = opts.secretAccessKey ?? t.secretAccessKey
  const signer = new SignatureV4({
    service: 's3',
    region: t.region,
    credentials: { accessKeyId, secretAccessKey },
    sha256: NodeSha256,
    uriEscapePath: false,
  })
  const url = endpointUrl()
  const path = url.pathname.replace(/\/+$/, '') + pathOf(opts.bucket, opts.key)
  const headers: Record<string, string> = {
    host: hostHeader(),
    'x-amz-content-sha256': opts.payloadHash ?? sha256Hex(opts.body ?? Buffer.alloc(0)),
    ...opts.headers,
  }
  const signed = await signer.sign(
    { method: opts.method, protocol: url.protocol, hostname: url.hostname, path, query: opts.query ?? {}, headers },
    { signingDate: opts.date ?? new Date() }
  )
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(signed.headers)) out[name.toLowerCase()] = String(value)
  const seed = /Signature=([0-9a-f]{64})/.exec(out['authorization']!)![1]!
  const amzDate = out['x-amz-date']!
  const day = amzDate.slice(0, 8)
  return {
    method: opts.method,
    path: pathOf(opts.bucket, opts.key),
    query: encodeQuery(opts.query),
    headers: out,
    chunkSigner: {
      key: signingKeyOf(secretAccessKey, day, t.region, 's3'),
      amzDate,
      scope: `${day}/${t.region}/s3/aws4_request`,
      seed,
    },
  }
}

/** Signs and sends in one go (body: a Buffer, hashed into the signature unless payloadHash says otherwise). */
export async function signedRequest(opts: SignOptions): Promise<RawResponse> {
  const signed = await signRequest(opts)
  return rawRequest({ ...signed, body: opts.body })
}

/** The S3 error code of an XML error body. */
export function errorCode(res: RawResponse): string | undefined {
  return xmlValue(res.text, 'Code')
}

/** Sends a request to a presigned URL exactly as signed (path and query untouched). */
export function fetchPresigned(url: string, method = 'GET', body?: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  const u = new URL(url)
  const base = new URL(target().endpoint).pathname.replace(/\/+$/, '')
  return rawRequest({ method, path: u.pathname.slice(base.length), query: u.search.slice(1), body, headers })
}
