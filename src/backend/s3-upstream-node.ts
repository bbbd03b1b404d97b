/**
 * @module backend/s3-upstream-node
 * The S3 upstream backend on Node: the SDK's Node HTTP handler with our own keep-alive agents (pool
 * size, TLS trust, timeouts), request bodies as Node Readables and response bodies checked to be one.
 * Only Node entry points import this; the backend itself (s3-upstream.ts) is runtime-neutral.
 */
import { readFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { rootCertificates } from 'node:tls'
import { Readable } from 'node:stream'
import { checkCaBundle } from '../tls.js'
import type { Backend } from './types.js'
import { createUpstreamBackend, type UpstreamOptions, type UpstreamTransport } from './s3-upstream.js'

/** How the Node transport connects: pool size, TLS trust, timeouts. */
export interface NodeTransportOptions {
  /** PEM text, or the path of a PEM file: CAs trusted for an https endpoint besides Node's bundled roots. */
  caBundle?: string
  /** Tests only: accept any certificate from an https endpoint. */
  insecureSkipVerify?: boolean
  /** Concurrent connections to the upstream (per protocol); default 64. */
  maxSockets?: number
  /** Give up connecting after this long; default 10 s. */
  connectionTimeoutMs?: number
  /** Fail a request whose socket is idle this long (request or response); default 120 s. */
  socketTimeoutMs?: number
}

export type S3UpstreamOptions = Omit<UpstreamOptions, 'transport'> & NodeTransportOptions

/** storage.caBundle: PEM text, or a file holding it; checked so a wrong file fails at startup. */
function loadCa(caBundle: string): string {
  if (caBundle.includes('-----BEGIN')) return checkCaBundle(caBundle, 'storage.caBundle')
  let pem: string
  try {
    pem = readFileSync(caBundle, 'utf8')
  } catch (err) {
    throw new Error(`storage.caBundle: cannot read ${caBundle} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  return checkCaBundle(pem, `storage.caBundle (${caBundle})`)
}

/** The SDK's Node handler options: the one place the upstream agents and their TLS trust are built. */
export function nodeRequestHandler(opts: NodeTransportOptions) {
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 64, scheduling: 'lifo' as const }
  return {
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent({
      ...agentOptions,
      // A private CA is added to the public roots (giving `ca` alone would replace them).
      ...(opts.caBundle ? { ca: [...rootCertificates, loadCa(opts.caBundle)] } : {}),
      ...(opts.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
    }),
    connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
    socketTimeout: opts.socketTimeoutMs ?? 120_000,
  }
}

export function nodeTransport(opts: NodeTransportOptions): UpstreamTransport {
  return {
    requestHandler: nodeRequestHandler(opts),
    // pipe() leaves the request open when the source fails: onError lets the backend abort it.
    requestBody(source, _length, onError) {
      const stream = Readable.from(source, { objectMode: false })
      stream.on('error', onError)
      return { body: stream, destroy: () => stream.destroy() }
    },
    responseBody(body) {
      if (!(body instanceof Readable)) return undefined
      return { source: body, destroy: () => body.destroy() }
    },
  }
}

/** The upstream backend with the Node transport (the shape node.ts and the tests use). */
export function createS3UpstreamBackend(opts: S3UpstreamOptions): Backend {
  const { caBundle, insecureSkipVerify, maxSockets, connectionTimeoutMs, socketTimeoutMs, ...upstream } = opts
  return createUpstreamBackend({
    ...upstream,
    transport: nodeTransport({ caBundle, insecureSkipVerify, maxSockets, connectionTimeoutMs, socketTimeoutMs }),
  })
}
