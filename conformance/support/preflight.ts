/**
 * @module conformance/support/preflight
 * Checks done once before the suite starts, so a wrong endpoint, CA bundle or key fails in seconds
 * with one clear line instead of some 250 failing cases: the URL parses, the endpoint answers, and a
 * signed ListBuckets is not refused for its credentials. It also tells whether the endpoint is an
 * s3veil gateway (its `Server` header), so that the gateway's documented deviations apply by default.
 */
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3'

export interface PreflightTarget {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  caBundle?: string
}

/** A setup problem found before any case ran: run.ts prints it and exits 2. */
export class PreflightError extends Error {}

const TIMEOUT_MS = 10_000
/** Credential errors: the suite cannot do anything with such keys. */
const BAD_CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidClientTokenId', 'AuthorizationHeaderMalformed'])

export async function preflight(t: PreflightTarget): Promise<{ s3veil: boolean }> {
  let url: URL
  try {
    url = new URL(t.endpoint)
  } catch {
    throw new PreflightError(notHttpUrl(t.endpoint))
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PreflightError(notHttpUrl(t.endpoint))
  }
  let ca: Buffer | undefined
  if (t.caBundle !== undefined) {
    try {
      ca = readFileSync(t.caBundle)
    } catch (err) {
      throw new PreflightError(`--ca-bundle ${t.caBundle}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const agent = url.protocol === 'https:' ? new HttpsAgent({ ca, keepAlive: false }) : undefined
  const server = await serverHeader(url, agent)
  const client = new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { requestTimeout: TIMEOUT_MS, ...(agent ? { httpsAgent: agent } : {}) },
  })
  try {
    await client.send(new ListBucketsCommand({}))
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error'
    // Keys without ListBuckets permission may still run most cases: only refused credentials stop here.
    if (BAD_CREDENTIALS.has(name)) {
      throw new PreflightError(`${t.endpoint} refused the credentials (${name}): check --access-key and --secret-key`)
    }
  } finally {
    client.destroy()
  }
  return { s3veil: server === 's3veil' }
}

const notHttpUrl = (endpoint: string) => `--endpoint ${JSON.stringify(endpoint)} is not an http:// or https:// URL (e.g. http://127.0.0.1:7070)`

/** The `Server` header of an unsigned GET / (any status will do); fails on no answer. */
function serverHeader(url: URL, agent: HttpsAgent | undefined): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, { method: 'GET', agent, timeout: TIMEOUT_MS }, (res) => {
      res.resume()
      const server = res.headers.server
      resolve(Array.isArray(server) ? server[0] : server)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)))
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(new PreflightError(`${url.origin} did not answer: ${err.code ?? err.message}${err.code ? ` (${err.message})` : ''}`))
    })
    req.end()
  })
}
