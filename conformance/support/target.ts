/**
 * @module conformance/support/target
 * The endpoint the conformance suite runs against, as conformance/run.ts describes it in the
 * environment (S3VEIL_CONFORMANCE_*): an SDK client for it and uniquely named buckets that are emptied
 * and deleted after the test file, whether its cases passed or not. Nothing here assumes the endpoint
 * is s3veil: it works as well against AWS S3 or any S3-compatible server.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent as HttpsAgent } from 'node:https'
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type BucketLocationConstraint,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { afterAll } from 'vitest'

export interface Target {
  /** e.g. 'gateway-disk-http', 'gateway-rgw-https', 'rgw-direct', 'custom' */
  label: string
  /** http(s)://host:port */
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  /** PEM file path for https endpoints with a private CA */
  caBundle?: string
  /** Prefix of every bucket the suite creates. */
  bucketPrefix: string
}

/** The environment variables conformance/run.ts sets for the vitest workers. */
export const ENV = {
  endpoint: 'S3VEIL_CONFORMANCE_ENDPOINT',
  accessKeyId: 'S3VEIL_CONFORMANCE_ACCESS_KEY',
  secretAccessKey: 'S3VEIL_CONFORMANCE_SECRET_KEY',
  region: 'S3VEIL_CONFORMANCE_REGION',
  caBundle: 'S3VEIL_CONFORMANCE_CA_BUNDLE',
  label: 'S3VEIL_CONFORMANCE_LABEL',
  bucketPrefix: 'S3VEIL_CONFORMANCE_BUCKET_PREFIX',
} as const

let cached: Target | undefined

export function target(): Target {
  if (cached) return cached
  const env = process.env
  const endpoint = env[ENV.endpoint]
  const accessKeyId = env[ENV.accessKeyId]
  const secretAccessKey = env[ENV.secretAccessKey]
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    throw new Error(
      `no conformance target: run the suite with \`npm run conformance\` (it sets ${ENV.endpoint}, ` +
        `${ENV.accessKeyId} and ${ENV.secretAccessKey})`
    )
  }
  cached = {
    label: env[ENV.label] || 'custom',
    endpoint: endpoint.replace(/\/+$/, ''),
    accessKeyId,
    secretAccessKey,
    region: env[ENV.region] || 'us-east-1',
    caBundle: env[ENV.caBundle] || undefined,
    bucketPrefix: sanitizePrefix(env[ENV.bucketPrefix] || 's3vc'),
  }
  return cached
}

function sanitizePrefix(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 20)
  return clean || 's3vc'
}

const httpsAgents = new Map<boolean, HttpsAgent>()

/**
 * An HTTPS agent trusting the target's CA bundle (on top of the system's); undefined (the SDK's own)
 * for a keep-alive agent without a CA bundle. The SDK
 * clients keep connections alive, as SDKs do; raw requests (`keepAlive: false`) take a fresh one each,
 * as they do over plain HTTP, so a case never inherits the state of a connection another case left.
 */
export function targetHttpsAgent(keepAlive = true): HttpsAgent | undefined {
  const t = target()
  if (!t.caBundle && keepAlive) return undefined
  let agent = httpsAgents.get(keepAlive)
  if (!agent) {
    agent = new HttpsAgent({ keepAlive, ...(t.caBundle ? { ca: readFileSync(t.caBundle) } : {}) })
    httpsAgents.set(keepAlive, agent)
  }
  return agent
}

/** An SDK client for the target: path style, the target's region, its CA honoured, no retries. */
export function s3Client(overrides: Partial<S3ClientConfig> = {}): S3Client {
  const t = target()
  const agent = targetHttpsAgent()
  return new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    // A retry would hide a wrong first answer (a 500 retried into a 200).
    maxAttempts: 1,
    ...(agent ? { requestHandler: { httpsAgent: agent } } : {}),
    ...overrides,
  })
}

let counter = 0

/** A DNS-valid bucket name (3-63 chars, lowercase, digits, hyphens) unique to this run. */
export function bucketName(hint: string): string {
  const tail = `${process.pid.toString(36)}${(counter++).toString(36)}-${randomBytes(4).toString('hex')}`
  const head = `${target().bucketPrefix}-${hint.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`
    .replace(/-+/g, '-')
    .slice(0, 62 - tail.length)
    .replace(/-+$/, '')
  return `${head}-${tail}`
}

const created: string[] = []
let cleanupClient: S3Client | undefined

/** Creates a uniquely named bucket on the target; it is emptied and deleted after the file's tests. */
export async function freshBucket(hint: string): Promise<string> {
  const name = bucketName(hint)
  const t = target()
  cleanupClient ??= s3Client({ maxAttempts: 3 })
  // Outside us-east-1, AWS wants the region named in the request body.
  const configuration =
    t.region === 'us-east-1' ? undefined : { LocationConstraint: t.region as BucketLocationConstraint }
  await cleanupClient.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: configuration }))
  created.push(name)
  return name
}

/** Empties (objects and unfinished uploads) and deletes a bucket; best effort, never throws. */
export async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    for (;;) {
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
      for (const u of uploads.Uploads ?? []) {
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }))
          .catch(() => {})
      }
      if (!uploads.IsTruncated) break
    }
  } catch {
    // listing uploads is optional for the cleanup
  }
  try {
    let token: string | undefined
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
      const keys = (page.Contents ?? []).map((o) => o.Key!)
      if (keys.length > 0) {
        try {
          await client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })
          )
        } catch {
          for (const Key of keys) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => {})
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
    await client.send(new DeleteBucketCommand({ Bucket: bucket }))
  } catch (err) {
    const name = (err as { name?: string }).name
    if (name !== 'NoSuchBucket') console.warn(`conformance: could not remove bucket ${bucket}: ${name ?? err}`)
  }
}

// Registered when a test file loads this module (vitest isolates each file's modules): every bucket
// the file created goes away after its tests, also when they failed.
try {
  afterAll(async () => {
    const client = cleanupClient
    for (const bucket of created.splice(0)) if (client) await removeBucket(client, bucket)
    client?.destroy()
    cleanupClient = undefined
  }, 120_000)
} catch {
  // not inside a vitest file (e.g. imported by a script): the caller cleans up
}
