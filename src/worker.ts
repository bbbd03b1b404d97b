/**
 * @module worker
 * The Cloudflare Workers entry: the same app as src/node.ts, built from Worker bindings. The config is
 * the JSON document of the Node config file, in the `S3VEIL_CONFIG` var; its secrets are
 * `{ "env": NAME }` references to Worker secrets. The app is built once per isolate and rebuilt only
 * when the config (or a secret it names) changes. What needs Node (the disk backend, LDAP, the TLS
 * listener, files, upstream CA bundles) is refused on the first request with a clear 500 and log line.
 * STS tokens issued by a Node instance are honoured (same `sts.tokenKey`); issuing needs LDAP, so the
 * Worker does not issue them.
 */
import type { Context } from 'hono'
import { createApp } from './app.js'
import type { AuditLog } from './audit.js'
import { createBasicAuthenticator, FailureThrottle, type BasicAuthenticator } from './auth/basic.js'
import { localPasswords } from './auth/password.js'
import { policyLookup } from './auth/policy-lookup.js'
import { fromBase64 } from './auth/sigv4/bytes.js'
import { createStsCodec, stsCredentials } from './auth/sts.js'
import { localCredentials } from './auth/users.js'
import type { CredentialLookup } from './auth/sigv4/verify.js'
import { createEncryptedBackend } from './backend/encrypted.js'
import { fetchTransport } from './backend/s3-upstream-fetch.js'
import { createUpstreamBackend } from './backend/s3-upstream.js'
import type { Backend } from './backend/types.js'
import { LOG_LEVELS, parseConfig, type Config, type SecretRef } from './config.js'
import { createKeyring } from './crypto/keyring.js'
import { parseConfigJson } from './json-locate.js'
import type { RuntimeAdapter } from './env.js'
import { withFixedLength } from './platform/fixed-length.js'
import { webPlatform } from './platform/web.js'
import type { ByteSource } from './platform/types.js'
import { S3Error } from './s3/errors.js'
import { renderS3Error } from './s3/responses.js'

/** The Worker's bindings: the config var plus whatever secrets it names. */
export interface WorkerEnv {
  /** The config document: JSON text, or a JSON var (an object). */
  S3VEIL_CONFIG?: unknown
  [binding: string]: unknown
}

type Fetch = (request: Request) => Response | Promise<Response>

/** A configuration the Worker cannot run: the message names the setting, never a secret. */
class WorkerConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WorkerConfigError'
  }
}

/** Sections that need Node, and why; the Worker refuses them rather than run half-configured. */
function refuseNodeOnly(document: Record<string, unknown>, config: Config): void {
  if (config.storage.type === 'disk') {
    throw new WorkerConfigError('storage: the disk backend needs Node; on Workers use "type": "s3" (AWS S3, R2, …)')
  }
  if (document.ldap !== undefined) throw new WorkerConfigError('ldap: LDAP needs TCP sockets and runs on Node only')
  if (document.tls !== undefined) {
    throw new WorkerConfigError('tls: on Workers, TLS is terminated by Cloudflare; remove the "tls" section')
  }
  if (config.storage.caBundle !== undefined || config.storage.insecureSkipVerify) {
    throw new WorkerConfigError('storage.caBundle/insecureSkipVerify: on Workers, upstream TLS trust is the runtime\'s')
  }
  if (config.audit.file !== undefined) throw new WorkerConfigError('audit.file: Workers have no files; audit records go to the log')
}

/** A `{ "env": NAME }` secret from the Worker's bindings; files do not exist here. */
function secretOf(env: WorkerEnv, ref: SecretRef, what: string): string {
  if (typeof ref === 'string') return ref
  if ('file' in ref) throw new WorkerConfigError(`${what}: {"file": …} secrets need Node; use {"env": NAME} and wrangler secret put`)
  const value = env[ref.env]
  if (typeof value !== 'string' || value === '') {
    throw new WorkerConfigError(`${what}: the Worker secret ${ref.env} is not set (wrangler secret put ${ref.env})`)
  }
  return value
}

function key32(text: string, what: string): Uint8Array {
  const bytes = fromBase64(text.trim())
  if (!bytes || bytes.byteLength !== 32) throw new WorkerConfigError(`${what}: must be 32 bytes, base64-encoded`)
  return bytes
}

/** The config document from the var, with `sts` taken aside (see buildDeps). */
function configDocument(env: WorkerEnv): { document: Record<string, unknown>; sts: unknown } {
  const raw = env.S3VEIL_CONFIG
  if (raw === undefined) throw new WorkerConfigError('S3VEIL_CONFIG: the config var is not set (see wrangler.toml)')
  let parsed: unknown
  try {
    parsed = typeof raw === 'string' ? parseConfigJson(raw, 'S3VEIL_CONFIG') : raw
  } catch (err) {
    throw new WorkerConfigError((err as Error).message)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WorkerConfigError('S3VEIL_CONFIG: must be a JSON object')
  }
  // config.ts ties `sts` to `ldap` (the issuer); here it only verifies, so it is checked apart.
  const { sts, ...document } = parsed as Record<string, unknown>
  return { document, sts }
}

function stsTokenKey(env: WorkerEnv, sts: unknown): Uint8Array | undefined {
  if (sts === undefined) return undefined
  const s = sts as { tokenKey?: unknown }
  const keys = typeof sts === 'object' && sts !== null ? Object.keys(sts) : []
  if (keys.length !== 1 || keys[0] !== 'tokenKey') throw new WorkerConfigError('sts: must be { "tokenKey": … }')
  const ref = s.tokenKey
  const valid = typeof ref === 'string' || (typeof ref === 'object' && ref !== null && ('env' in ref || 'file' in ref))
  if (!valid) throw new WorkerConfigError('sts.tokenKey: must be a string or {"env": NAME}')
  return key32(secretOf(env, ref as SecretRef, 'sts.tokenKey'), 'sts.tokenKey')
}

/** The request body as bytes; `return()` (a consumer that stops early) cancels the rest. */
function requestBody(stream: ReadableStream<Uint8Array> | null): ByteSource {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      if (!stream) return { next: async () => ({ done: true, value: undefined }) }
      const reader = stream.getReader()
      return {
        async next() {
          const { done, value } = await reader.read()
          return done ? { done: true, value: undefined } : { done: false, value }
        },
        async return() {
          await reader.cancel().catch(() => {})
          return { done: true, value: undefined }
        },
      }
    },
  }
}

const workerAdapter: RuntimeAdapter = {
  // Workers only expose the parsed URL: dot segments are already resolved.
  rawTarget: (c: Context) => {
    const url = new URL(c.req.url)
    return url.pathname + url.search
  },
  body: (c: Context) => requestBody(c.req.raw.body),
  clientAddress: (c: Context) => c.req.header('cf-connecting-ip'),
  // A response stream that errors is cut short by the runtime itself (s3/handlers/stream.ts errors it).
  abortResponse: () => {},
}

/** pino's numeric levels, so a line reads the same from either runtime. */
const PINO_LEVEL: Record<string, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 }

/** One JSON line per event, as pino writes on Node; Workers Logs and `wrangler tail` pick them up. */
function consoleAudit(level: string): AuditLog {
  const rank = (name: string) => LOG_LEVELS.indexOf(name)
  const enabled = (name: string) => level !== 'silent' && rank(name) <= rank(level)
  const line = (lvl: string, fields: Record<string, unknown>) =>
    JSON.stringify({ level: PINO_LEVEL[lvl], time: Date.now(), service: 's3veil', ...fields })
  return {
    request: (record) => enabled('info') && console.log(line('info', { ...record, msg: 'request' })),
    ops: (record) => enabled('debug') && console.log(line('debug', { ...record, msg: 'request' })),
    internalError: (requestId, err) => {
      const e = err instanceof Error ? { type: err.name, message: err.message, stack: err.stack } : { message: String(err) }
      if (enabled('error')) console.error(line('error', { requestId, err: e, msg: 'internal error' }))
    },
  }
}

async function buildBackend(env: WorkerEnv, config: Config): Promise<Backend> {
  if (config.storage.type !== 's3') throw new WorkerConfigError('storage: the Worker needs an S3 upstream')
  const storage = config.storage
  if (!storage.accessKeyId || !storage.secretAccessKey) {
    // The SDK's credential chain (environment, files, instance roles) does not exist on Workers.
    throw new WorkerConfigError('storage.accessKeyId/secretAccessKey: required on Workers (as {"env": NAME} secrets)')
  }
  const inner = createUpstreamBackend({
    endpoint: storage.endpoint,
    region: storage.region,
    forcePathStyle: storage.forcePathStyle,
    credentials: {
      accessKeyId: secretOf(env, storage.accessKeyId, 'storage.accessKeyId'),
      secretAccessKey: secretOf(env, storage.secretAccessKey, 'storage.secretAccessKey'),
      sessionToken: storage.sessionToken && secretOf(env, storage.sessionToken, 'storage.sessionToken'),
    },
    transport: fetchTransport(),
  })
  const keys = config.keyring.keys.map((k) => ({
    id: k.id,
    material: key32(secretOf(env, k.key, `keyring key ${k.id}`), `keyring key ${k.id}`),
  }))
  const keyring = await createKeyring(webPlatform, { current: config.keyring.current, keys })
  return createEncryptedBackend(inner, { platform: webPlatform, keyring, plaintextBuckets: config.plaintextBuckets })
}

/** Builds the app from the bindings; throws WorkerConfigError (or ConfigError) for a config it cannot run. */
export async function buildWorkerApp(env: WorkerEnv): Promise<Fetch> {
  const { document, sts } = configDocument(env)
  // Listener and data-directory defaults mean nothing here; the values only satisfy the parser.
  const config = parseConfig(document, { host: '0.0.0.0', port: 0, dataDir: '/nonexistent', logLevel: 'info' })
  refuseNodeOnly(document, config)
  const tokenKey = stsTokenKey(env, sts)
  const local = localCredentials(
    config.users.map((u) => ({
      name: u.name,
      groups: u.groups,
      accessKeys: u.accessKeys.map((k) => ({ id: k.id, disabled: k.disabled, secret: secretOf(env, k.secret, `access key ${k.id}`) })),
    }))
  )
  // A request with a session token is a temporary session's, whose token alone says who it is.
  const temporary = tokenKey && stsCredentials(await createStsCodec(webPlatform, tokenKey))
  const credentials: CredentialLookup = temporary ? (id, token) => (token === undefined ? local(id) : temporary(id, token)) : local
  let basic: BasicAuthenticator | undefined
  if (config.basicAuth.enabled) {
    const users = config.users.map((u) => ({
      name: u.name,
      groups: u.groups,
      passwordHash: u.password && secretOf(env, u.password, `password of user ${u.name}`),
    }))
    // The failure throttle is per isolate here: Workers share no memory between isolates.
    const throttle = new FailureThrottle({ burst: config.basicAuth.failureBurst, refillPerMinute: config.basicAuth.failureRefillPerMinute })
    basic = createBasicAuthenticator([localPasswords(users, webPlatform)], throttle)
  }
  const app = createApp({
    backend: await buildBackend(env, config),
    platform: webPlatform,
    credentials,
    basic,
    policiesFor: policyLookup(config),
    adapter: workerAdapter,
    audit: consoleAudit(config.logLevel),
    region: config.region,
    virtualHostDomains: config.virtualHostDomains,
  })
  return async (request) => withDeclaredLength(await app.fetch(request))
}

/** A streamed response goes out with its Content-Length (workerd would drop it and send chunks). */
function withDeclaredLength(response: Response): Response {
  const length = response.headers.get('content-length')
  if (response.body === null || length === null) return response
  return new Response(withFixedLength(response.body, Number(length)), response)
}

/** What identifies a build: the config text and the secrets it names (a changed secret rebuilds too). */
function buildKey(env: WorkerEnv): string {
  const raw = env.S3VEIL_CONFIG
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw ?? null)
  const names = [...text.matchAll(/"env"\s*:\s*"([^"]+)"/g)].map((m) => m[1]!)
  return JSON.stringify([text, names.map((name) => env[name] ?? null)])
}

/** The refusal every request gets while the config cannot run: says what to fix, not what the secrets are. */
function refusal(err: unknown): Response {
  const message = err instanceof Error ? err.message : 'invalid configuration'
  const error = new S3Error('InternalError', `s3veil cannot start on Workers: ${message}`)
  return renderS3Error(error, { requestId: 'worker-config', method: 'GET' })
}

let built: { key: string; app: Promise<Fetch> } | undefined

function appFor(env: WorkerEnv): Promise<Fetch> {
  const key = buildKey(env)
  if (built?.key !== key) {
    const app = buildWorkerApp(env)
    built = { key, app }
    app.catch((err) => {
      const message = err instanceof Error ? err.message : String(err)
      console.error(JSON.stringify({ level: PINO_LEVEL.fatal, time: Date.now(), service: 's3veil', msg: 'configuration refused', err: message }))
    })
  }
  return built.app
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    let app: Fetch
    try {
      app = await appFor(env)
    } catch (err) {
      return refusal(err)
    }
    return app(request)
  },
}
