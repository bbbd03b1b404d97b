/**
 * @module test/integration/support
 * Shared helpers for the integration suites: start the gateway (a real process, test/helpers/gateway.ts)
 * on either backend — disk, or a real Ceph RGW (test/helpers/rgw.ts) — build SDK clients for it, send
 * hand-signed raw HTTP requests (node:http, so every header and byte is under our control), frame
 * aws-chunked bodies with chunk/trailer signatures, and compute checksums independently of the gateway.
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { Agent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import type { LookupFunction } from 'node:net'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { SignatureV4 } from '@smithy/signature-v4'
import { NodeSha256, encodeAwsChunked, sha256Hex, signingKeyOf, type ChunkSigner } from '../fixtures/sigv4/helpers.js'
import { startGateway, type GatewayProcess, type StartOptions } from '../helpers/gateway.js'
import { isCi, type TestRgw } from '../helpers/rgw.js'

export const REGION = 'us-east-1'
export const MiB = 1024 * 1024

export type BackendKind = 'disk' | 'rgw'

export interface Target {
  kind: BackendKind
  gw: GatewayProcess
  url: string
  host: string
  port: number
  accessKeyId: string
  secretAccessKey: string
  /** The config document the gateway runs with. */
  config: GatewayConfig
  /** A client straight to RGW with its own credentials (rgw backend only): what is really stored. */
  upstream?: S3Client
  client(overrides?: Partial<S3ClientConfig>): S3Client
  /** A bucket name unique to this run (RGW is shared by every test file). */
  bucketName(label: string): string
  stop(): Promise<void>
}

export interface GatewayConfig extends Record<string, unknown> {
  users: { name: string; groups: string[]; accessKeys: { id: string; secret: string }[]; policies?: string[] }[]
  keyring: { current: string; keys: { id: string; key: string }[] }
}

/** Everything: the suites that predate policies exercise S3 behaviour, not authorization. */
export const FULL_ACCESS_POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }

/** A config document like README's, with inline secrets, a fresh 32-byte master key and a full-access user. */
export function gatewayConfig(storage: Record<string, unknown>, extra: Record<string, unknown> = {}): GatewayConfig {
  return {
    region: REGION,
    virtualHostDomains: ['localhost'],
    storage,
    keyring: { current: 'k1', keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] },
    users: [
      {
        name: 'alice',
        groups: ['staff'],
        accessKeys: [{ id: 'AKS3VEIL' + randomBytes(6).toString('hex').toUpperCase(), secret: randomBytes(30).toString('base64') }],
        policies: ['full-access'],
      },
    ],
    policies: { 'full-access': FULL_ACCESS_POLICY },
    logLevel: 'info',
    ...extra,
  }
}

let bucketCounter = 0

export function uniqueBucket(label: string): string {
  const name = `s3v-${label}-${process.pid.toString(36)}${(bucketCounter++).toString(36)}-${randomBytes(3).toString('hex')}`
  return name.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63)
}

export function rgwClient(rgw: TestRgw): S3Client {
  return new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    // RGW 16 answers 411 to the SDK's default streaming checksum form.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  })
}

/** Starts the gateway process on the disk backend or fronting `rgw`, configured by a config document. */
export async function startTarget(
  kind: BackendKind,
  rgw: TestRgw | undefined,
  options: { extra?: Record<string, unknown>; start?: StartOptions } = {}
): Promise<Target> {
  let storage: Record<string, unknown>
  if (kind === 'disk') {
    storage = { type: 'disk' }
  } else {
    if (!rgw) throw new Error('the rgw backend needs an RGW')
    storage = {
      type: 's3',
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
    }
  }
  const config = gatewayConfig(storage, options.extra)
  const gw = await startGateway({ ...options.start, config })
  const url = new URL(gw.url)
  const upstream = kind === 'rgw' ? rgwClient(rgw!) : undefined
  return {
    kind,
    gw,
    url: gw.url,
    host: url.hostname,
    port: Number(url.port),
    accessKeyId: gw.accessKeyId,
    secretAccessKey: gw.secretAccessKey,
    config,
    upstream,
    client: (overrides = {}) => sdkClient(gw.url, gw, overrides),
    bucketName: uniqueBucket,
    stop: async () => {
      upstream?.destroy()
      await gw.stop()
    },
  }
}

export function sdkClient(
  endpoint: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  overrides: Partial<S3ClientConfig> = {}
): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    // Retries would hide a first answer that was wrong (a 500 retried into a 200).
    maxAttempts: 1,
    ...overrides,
  })
}

/** An HTTP agent that resolves every name to 127.0.0.1 (`bucket.localhost` does not resolve here). */
export function loopbackAgent(): Agent {
  const lookup = ((_host: string, options: unknown, callback: (...args: unknown[]) => void) => {
    const cb = typeof options === 'function' ? (options as typeof callback) : callback
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all
    if (all) cb(null, [{ address: '127.0.0.1', family: 4 }])
    else cb(null, '127.0.0.1', 4)
  }) as unknown as LookupFunction
  return new Agent({ lookup, keepAlive: false })
}

// ---------------------------------------------------------------------------------------------
// Tools

/**
 * For a test that needs an external tool: true when present. When missing it throws under CI (so the
 * file FAILS), and otherwise warns loudly and returns false (the caller skips).
 */
export function requireTool(what: string, present: boolean, detail = ''): boolean {
  if (present) return true
  if (isCi()) throw new Error(`CI: ${what} is required by the integration tests but is not available. ${detail}`)
  const line = '!'.repeat(100)
  console.warn(`\n${line}\nSKIPPING tests that need ${what}: not available (under CI=true this fails). ${detail}\n${line}\n`)
  return false
}

/** Runs a program, returning its stdout, or undefined when it cannot run or fails. */
export function probe(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  /** False when the connection was cut before the response ended. */
  complete: boolean
  /** The transport error, if the response (or request) was cut. */
  error?: Error
}

export interface RawRequest {
  method: string
  /** Encoded path, sent exactly as given. */
  path: string
  /** Encoded query without '?'. */
  query?: string
  headers?: OutgoingHttpHeaders
  body?: Buffer | AsyncIterable<Uint8Array>
  agent?: Agent
}

/** One HTTP/1.1 exchange over a fresh connection to the target; never throws for HTTP errors. */
export function rawRequest(target: { host: string; port: number }, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const path = req.path + (req.query ? '?' + req.query : '')
    const r = httpRequest({
      host: target.host,
      port: target.port,
      method: req.method,
      path,
      headers: req.headers,
      agent: req.agent ?? false,
      setHost: !(req.headers && Object.keys(req.headers).some((h) => h.toLowerCase() === 'host')),
    })
    r.on('response', (res) => {
      const chunks: Buffer[] = []
      let done = false
      const finish = (complete: boolean, error?: Error) => {
        if (done) return
        done = true
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete, error })
      }
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => finish(res.complete))
      res.on('aborted', () => finish(false, new Error('aborted')))
      res.on('error', (err) => finish(false, err))
      res.on('close', () => finish(res.complete))
    })
    r.on('error', reject)
    sendBody(r, req.body)
  })
}

/** Writes a request body (bytes, or a stream with backpressure) and ends the request; a failing stream destroys it. */
export function sendBody(r: ClientRequest, body: Buffer | AsyncIterable<Uint8Array> | undefined): void {
  if (body === undefined) r.end()
  else if (Buffer.isBuffer(body)) r.end(body)
  else {
    void (async () => {
      try {
        for await (const chunk of body) {
          if (!r.write(chunk)) await new Promise((d) => r.once('drain', d))
        }
        r.end()
      } catch (err) {
        r.destroy(err as Error)
      }
    })()
  }
}

/** RFC 3986 encoding of one path segment or query component, as the AWS SDKs write them. */
export function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

export function objectPath(bucket: string, key?: string): string {
  if (key === undefined) return '/' + bucket
  return '/' + bucket + '/' + key.split('/').map(rfc3986).join('/')
}

/**
 * A clean environment for command-line S3 clients: these credentials, and nothing from the host's
 * AWS setup (config, credentials files, instance metadata) or pager.
 */
export function awsClientEnv(
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  home: string,
  extra: Record<string, string> = {}
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    ...(creds.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: creds.sessionToken }),
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: `${home}/no-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/no-credentials`,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extra,
  }
}

export function md5Base64(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('base64')
}

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex')
}

export interface SignOptions {
  method: string
  /** Encoded path (objectPath). */
  path: string
  query?: Record<string, string>
  headers?: Record<string, string>
  /** x-amz-content-sha256; default: the SHA-256 of `body` (or of nothing). */
  payloadHash?: string
  body?: Buffer
  date?: Date
  accessKeyId?: string
  secretAccessKey?: string
  /** Host header value; default host:port of the target. */
  host?: string
}

export interface Signed {
  headers: Record<string, string>
  query: string
  /** What chunk signatures chain from. */
  chunkSigner: ChunkSigner
}

/** Encodes a query object in a canonical-compatible way (sorted, RFC 3986). */
export function encodeQuery(query: Record<string, string> = {}): string {
  return Object.keys(query)
    .sort()
    .map((k) => (query[k] === '' ? rfc3986(k) + '=' : rfc3986(k) + '=' + rfc3986(query[k]!)))
    .join('&')
}

/** Signs a request with @smithy/signature-v4 (Authorization header). */
export async function signRequest(
  target: { host: string; port: number; accessKeyId: string; secretAccessKey: string },
  opts: SignOptions
): Promise<Signed> {
  const accessKeyId = opts.accessKeyId ?? target.accessKeyId
  const secretAccessKey = opts.secretAccessKey ?? target.secretAccessKey
  const signer = new SignatureV4({
    service: 's3',
    region: REGION,
    credentials: { accessKeyId, secretAccessKey },
    sha256: NodeSha256,
    uriEscapePath: false,
  })
  const host = opts.host ?? `${target.host}:${target.port}`
  const headers: Record<string, string> = {
    host,
    'x-amz-content-sha256': opts.payloadHash ?? sha256Hex(opts.body ?? Buffer.alloc(0)),
    ...opts.headers,
  }
  const date = opts.date ?? new Date()
  const signed = await signer.sign(
    { method: opts.method, protocol: 'http:', hostname: target.host, port: target.port, path: opts.path, query: opts.query ?? {}, headers },
    { signingDate: date }
  )
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(signed.headers)) out[name.toLowerCase()] = String(value)
  const auth = out['authorization']!
  const seed = /Signature=([0-9a-f]{64})/.exec(auth)![1]!
  const amzDate = out['x-amz-date']!
  const day = amzDate.slice(0, 8)
  return {
    headers: out,
    query: encodeQuery(opts.query),
    chunkSigner: {
      key: signingKeyOf(secretAccessKey, day, REGION, 's3'),
      amzDate,
      scope: `${day}/${REGION}/s3/aws4_request`,
      seed,
    },
  }
}

/** Signs and sends in one go. */
export async function signedRequest(
  target: Target,
  opts: SignOptions & { body?: Buffer | AsyncIterable<Uint8Array>; bodyForHash?: Buffer; agent?: Agent }
): Promise<RawResponse> {
  const body = opts.body
  const signed = await signRequest(target, { ...opts, body: Buffer.isBuffer(body) ? body : opts.bodyForHash })
  return rawRequest(target, { method: opts.method, path: opts.path, query: signed.query, headers: signed.headers, body, agent: opts.agent })
}

// ---------------------------------------------------------------------------------------------
// aws-chunked

export { sha256Hex }

/** aws-chunked framing of `data`, from the SigV4 test fixtures (written from the AWS documentation). */
export { encodeAwsChunked as awsChunked }

// ---------------------------------------------------------------------------------------------
// Checksums, computed here independently of the gateway and the SDK

function beBytes(value: bigint, bytes: number): Buffer {
  const out = Buffer.alloc(bytes)
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn)
    value >>= 8n
  }
  return out
}

export function crc32Base64(data: Uint8Array): string {
  return beBytes(BigInt(zlibCrc32(data)), 4).toString('base64')
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

export function crc32cBase64(data: Uint8Array): string {
  return beBytes(BigInt(crc32c(data)), 4).toString('base64')
}

/** CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones. */
const CRC64_TABLE = (() => {
  const poly = 0x9a6c9329ac4bc9b5n
  const table: bigint[] = []
  for (let n = 0n; n < 256n; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1n ? poly ^ (c >> 1n) : c >> 1n
    table.push(c)
  }
  return table
})()

export function crc64nvme(data: Uint8Array): bigint {
  const mask = 0xffffffffffffffffn
  let crc = mask
  for (const byte of data) crc = CRC64_TABLE[Number((crc ^ BigInt(byte)) & 0xffn)]! ^ (crc >> 8n)
  return (crc ^ mask) & mask
}

export function crc64nvmeBase64(data: Uint8Array): string {
  return beBytes(crc64nvme(data), 8).toString('base64')
}

export function sha1Base64(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('base64')
}

export function sha256Base64(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64')
}

export const CHECKSUMS = {
  CRC32: crc32Base64,
  CRC32C: crc32cBase64,
  CRC64NVME: crc64nvmeBase64,
  SHA1: sha1Base64,
  SHA256: sha256Base64,
} as const

export type ChecksumName = keyof typeof CHECKSUMS

// ---------------------------------------------------------------------------------------------
// Misc

/** `length` bytes of a recognizable repeated marker followed by nothing random (for at-rest scans). */
export function markerBytes(length: number, marker = 'S3VEIL-PLAINTEXT-MARKER-'): Buffer {
  const out = Buffer.alloc(length)
  if (length > 0) out.fill(marker)
  return out
}

/** Parses the elements named `name` out of an XML text (flat, test-only). */
export function xmlValues(xml: string, name: string): string[] {
  const re = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g')
  return [...xml.matchAll(re)].map((m) => m[1]!)
}

export function xmlValue(xml: string, name: string): string | undefined {
  return xmlValues(xml, name)[0]
}

/** The error an SDK call failed with (its name, status and message), or a failure when it succeeded. */
export async function sdkError(promise: Promise<unknown>): Promise<{ name: string; status?: number; message: string; err: unknown }> {
  try {
    await promise
  } catch (err) {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
    return { name: e.name ?? '', status: e.$metadata?.httpStatusCode, message: e.message ?? '', err }
  }
  throw new Error('expected the call to fail, but it succeeded')
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))
