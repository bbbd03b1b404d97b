/**
 * @module node
 * The Node entry: resolves configuration (a config file, or the embedded default with generated
 * development keys), builds the app's dependencies, and serves it with @hono/node-server.
 */
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { serve, type HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'
import pino from 'pino'
import { Client as LdapClient, ResultCodeError as LdapResultError } from 'ldapts'
import { exposedSecretsProblem } from './admin.js'
import { createApp } from './app.js'
import { safeError, type AuditLog } from './audit.js'
import { createBasicAuthenticator, FailureThrottle, type BasicAuthenticator, type PasswordVerifier } from './auth/basic.js'
import { createLdapVerifier } from './auth/ldap.js'
import { localPasswords } from './auth/password.js'
import { policyLookup } from './auth/policy-lookup.js'
import { createStsCodec, stsCredentials } from './auth/sts.js'
import { localCredentials, type LocalUser } from './auth/users.js'
import { createEncryptedBackend } from './backend/encrypted.js'
import { createFilesystemBackend } from './backend/filesystem.js'
import { createS3UpstreamBackend } from './backend/s3-upstream-node.js'
import type { Backend } from './backend/types.js'
import { ConfigError, LOG_LEVELS, parseConfig, type Config } from './config.js'
import { createKeyring } from './crypto/keyring.js'
import { embeddedDefault, printDevBanner } from './embedded-default.js'
import type { ClientCertificateAuth, RuntimeAdapter } from './env.js'
import { lineOfPath, parseConfigJson } from './json-locate.js'
import { createNodeMetrics } from './metrics-node.js'
import { nodePlatform } from './platform/node.js'
import { S3Error } from './s3/errors.js'
import type { StsService } from './sts-endpoint.js'
import type { ByteSource } from './platform/types.js'
import { connectionInfo, describeCertificate, subjectMapper, tlsServerOptions, watchCertificates, type SecretResolver } from './tls.js'

export interface ServeOptions {
  host?: string
  port?: number
  /** The HTTPS listener's port (0 = any), over the config's `tls.port`; needs a `tls` section. */
  tlsPort?: number
  dataDir?: string
  configFile?: string
  logLevel?: string
  /** Over the config's `ops.shutdownTimeoutSeconds`. */
  shutdownTimeoutSeconds?: number
}

export interface RunningGateway {
  /** The plain-HTTP listener's URL, or the HTTPS one when plain HTTP is off. */
  url: string
  /** The HTTPS listener's URL, when there is one. */
  tlsUrl?: string
  /** SIGTERM: readiness goes 503, no new connections, requests in flight finish (or are cut at the timeout). */
  shutdown(signal: string): Promise<void>
  close(): Promise<void>
}

type NodeContext = Context<{ Bindings: HttpBindings }>

/**
 * The request body as bytes, read from Node's own stream. A consumer that stops early (an error
 * answered before the body was read to its end, e.g. an upstream refusing a PUT mid-upload) releases
 * it by `return()`: the rest is then read and discarded, as Node does for a body nobody reads. The
 * default, destroying the request, does not close the connection once the response has finished (the
 * socket is detached by then), leaving a keep-alive connection with unread bytes and no reader: the
 * client's next request on it would hang.
 */
function requestBody(incoming: IncomingMessage): ByteSource {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const iterator = incoming.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>
      return {
        async next() {
          try {
            return await iterator.next()
          } catch (err) {
            // The client went away mid-body: its request is incomplete, not our internal failure.
            if (incoming.destroyed || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
              throw new S3Error('IncompleteBody', undefined, { cause: err })
            }
            throw err
          }
        },
        async return() {
          await iterator.return?.()
          if (!incoming.readableEnded) incoming.resume()
          return { done: true, value: undefined }
        },
      }
    },
  }
}

const nodeAdapter: RuntimeAdapter = {
  rawTarget: (c) => (c as NodeContext).env.incoming.url ?? '/',
  body: (c) => requestBody((c as NodeContext).env.incoming),
  clientAddress: (c) => (c as NodeContext).env.incoming.socket.remoteAddress,
  connection: (c) => connectionInfo((c as NodeContext).env.incoming.socket),
  abortResponse: (c) => {
    const outgoing = (c as NodeContext).env.outgoing as ServerResponse
    outgoing.destroy()
  },
}

/**
 * Resolves `{ file }` / `{ env }` secret references. A secret file others can write is refused (anyone
 * could swap the key); one others can read is only warned about, since container runtimes mount
 * secrets 0444/0644 by default and the container is the boundary there.
 */
function secretResolver(log: pino.Logger): SecretResolver {
  return async (ref, what) => {
    if (typeof ref === 'string') return ref
    if ('env' in ref) {
      const value = process.env[ref.env]
      if (value === undefined || value === '') throw new Error(`${what}: environment variable ${ref.env} is not set`)
      return value
    }
    const info = await stat(ref.file).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`${what}: cannot read secret file ${ref.file} (${err.code ?? 'error'})`)
    })
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0')
    if ((info.mode & 0o022) !== 0) {
      throw new Error(`${what}: secret file ${ref.file} is writable by group or others (mode ${mode}): chmod 600 it`)
    }
    if ((info.mode & 0o044) !== 0) {
      log.warn({ file: ref.file, mode }, `${what}: secret file is readable by group or others; chmod 600 it unless a container is the boundary`)
    }
    return (await readFile(ref.file, 'utf8')).trim()
  }
}

async function buildBackend(config: Config, log: pino.Logger, resolveSecret: SecretResolver): Promise<Backend> {
  const storage = config.storage
  let inner: Backend
  if (storage.type === 'disk') {
    inner = await createFilesystemBackend({ dataDir: storage.dataDir, region: config.region })
  } else {
    const accessKeyId = storage.accessKeyId && (await resolveSecret(storage.accessKeyId, 'storage.accessKeyId'))
    const secretAccessKey = storage.secretAccessKey && (await resolveSecret(storage.secretAccessKey, 'storage.secretAccessKey'))
    const sessionToken = storage.sessionToken && (await resolveSecret(storage.sessionToken, 'storage.sessionToken'))
    inner = createS3UpstreamBackend({
      endpoint: storage.endpoint,
      region: storage.region,
      forcePathStyle: storage.forcePathStyle,
      // Without both, the SDK's default chain applies (AWS_ACCESS_KEY_ID etc. of this process).
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
      caBundle: storage.caBundle,
      insecureSkipVerify: storage.insecureSkipVerify,
    })
    if (storage.insecureSkipVerify) {
      log.warn(
        { endpoint: storage.endpoint },
        'INSECURE: storage.insecureSkipVerify is set: the upstream TLS certificate is NOT verified, anyone on the path can read and alter traffic. For tests only.'
      )
    }
  }
  const keys = await Promise.all(
    config.keyring.keys.map(async (k) => {
      const material = Buffer.from(await resolveSecret(k.key, `keyring key ${k.id}`), 'base64')
      if (material.byteLength !== 32) throw new Error(`keyring key ${k.id}: must be 32 bytes, base64-encoded`)
      return { id: k.id, material: new Uint8Array(material) }
    })
  )
  const keyring = await createKeyring(nodePlatform, { current: config.keyring.current, keys })
  return createEncryptedBackend(inner, { platform: nodePlatform, keyring, plaintextBuckets: config.plaintextBuckets })
}

/**
 * HTTP Basic and the STS endpoint. They share one LDAP verifier (its cache) and one failure throttle,
 * so a password guesser gains nothing by alternating between them.
 */
async function buildPasswordAuth(
  config: Config,
  log: pino.Logger,
  resolveSecret: SecretResolver,
  ldapBindPassword: string | undefined
): Promise<{ basic?: BasicAuthenticator; sts?: StsService }> {
  const throttle = new FailureThrottle({ burst: config.basicAuth.failureBurst, refillPerMinute: config.basicAuth.failureRefillPerMinute })
  const ldap = config.ldap
  let ldapVerifier: PasswordVerifier | undefined
  if (ldap) {
    ldapVerifier = createLdapVerifier({
      url: ldap.url,
      bindDN: ldap.bindDN,
      bindPassword: ldapBindPassword,
      userBase: ldap.userBase,
      userFilter: ldap.userFilter,
      userDNTemplate: ldap.userDNTemplate,
      groupAttribute: ldap.groupAttribute,
      groupBase: ldap.groupBase,
      groupFilter: ldap.groupFilter,
      startTLS: ldap.startTLS,
      tls: ldap.caFile ? { ca: await readFile(ldap.caFile, 'utf8') } : undefined,
      timeoutMs: ldap.timeoutMs,
      cacheTtlMs: ldap.cacheTtlSeconds * 1000,
      retryAfterMs: 5000,
      onError: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'LDAP unavailable'),
    })
  }
  let basic: BasicAuthenticator | undefined
  if (config.basicAuth.enabled) {
    const users = await Promise.all(
      config.users.map(async (u) => ({
        name: u.name,
        groups: u.groups,
        passwordHash: u.password && (await resolveSecret(u.password, `password of user ${u.name}`)),
      }))
    )
    basic = createBasicAuthenticator([localPasswords(users, nodePlatform), ...(ldapVerifier ? [ldapVerifier] : [])], throttle)
  }
  let sts: StsService | undefined
  if (config.sts && ldapVerifier) {
    const tokenKey = Buffer.from(await resolveSecret(config.sts.tokenKey, 'sts.tokenKey'), 'base64')
    if (tokenKey.byteLength !== 32) throw new Error('sts.tokenKey: must be 32 bytes, base64-encoded')
    sts = {
      codec: await createStsCodec(nodePlatform, new Uint8Array(tokenKey)),
      // LDAP users only: local users have access keys of their own.
      login: createBasicAuthenticator([ldapVerifier], throttle),
    }
  }
  return { basic, sts }
}

async function resolveUsers(config: Config, resolveSecret: SecretResolver): Promise<LocalUser[]> {
  return Promise.all(
    config.users.map(async (u) => ({
      name: u.name,
      groups: u.groups,
      accessKeys: await Promise.all(
        u.accessKeys.map(async (k) => ({ id: k.id, disabled: k.disabled, secret: await resolveSecret(k.secret, `access key ${k.id}`) }))
      ),
    }))
  )
}

function pinoAudit(log: pino.Logger, audit: pino.Logger, pending: PendingRecords): AuditLog {
  return {
    request: (record) => {
      audit.info({ ...record, msg: 'request' })
      pending.written()
    },
    ops: (record) => {
      audit.debug({ ...record, msg: 'request' })
      pending.written()
    },
    internalError: (requestId, err) => log.error({ requestId, err }, 'internal error'),
  }
}

/**
 * Requests whose audit record is not written yet (the app writes exactly one per request). Shutdown
 * waits for them after the connections are closed, so a request cut at the timeout is still logged.
 */
class PendingRecords {
  private count = 0
  private waiters: (() => void)[] = []

  started(): void {
    this.count++
  }

  written(): void {
    if (--this.count === 0) for (const wake of this.waiters.splice(0)) wake()
  }

  /** Resolves once every request so far has its record, or after `ms` at the latest. */
  allWritten(ms: number): Promise<void> {
    if (this.count <= 0) return Promise.resolve()
    return new Promise((done) => {
      const timer = setTimeout(done, ms)
      this.waiters.push(() => {
        clearTimeout(timer)
        done()
      })
    })
  }
}

const LOGGER_OPTIONS = { base: { service: 's3veil' }, serializers: { err: safeError } }

/**
 * The audit logger: the main log (stdout) by default, or its own file (mode 0600, created with its
 * directory), written synchronously so no record is lost at exit. A file gets the records whatever
 * the main log level, at info (debug, with the ops requests, when the log level is debug or trace).
 */
function auditLogger(log: pino.Logger, file: string | undefined): pino.Logger {
  if (file === undefined) return log
  const level = log.isLevelEnabled('debug') ? 'debug' : 'info'
  return pino({ ...LOGGER_OPTIONS, level }, pino.destination({ dest: file, mkdir: true, sync: true, mode: 0o600 }))
}

/**
 * LDAP readiness: a bind with the service account, or (direct bind, no account) a connection and an
 * anonymous bind, where a refusal still proves the directory answers.
 */
function ldapCheck(ldap: NonNullable<Config['ldap']>, bindPassword: string | undefined): () => Promise<void> {
  return async () => {
    const tlsOptions = ldap.caFile ? { ca: await readFile(ldap.caFile, 'utf8') } : undefined
    const client = new LdapClient({ url: ldap.url, timeout: ldap.timeoutMs, connectTimeout: ldap.timeoutMs, tlsOptions })
    try {
      if (ldap.startTLS) await client.startTLS(tlsOptions ?? {})
      if (ldap.bindDN !== undefined) await client.bind(ldap.bindDN, bindPassword)
      else await client.bind('').catch((err: unknown) => {
        if (!(err instanceof LdapResultError)) throw err
      })
    } catch (err) {
      throw new S3Error('ServiceUnavailable', undefined, { cause: err })
    } finally {
      await client.unbind().catch(() => undefined)
    }
  }
}

/**
 * Reports an uncaught exception or unhandled rejection as one fatal log line and exits 1. Node's own
 * report would print every property of the error, and an AWS SDK error carries the signed request.
 */
export function reportCrashes(): void {
  const log = pino(LOGGER_OPTIONS, pino.destination({ fd: 2, sync: true }))
  const crash = (msg: string) => (err: unknown) => {
    log.fatal({ err }, msg)
    process.exit(1)
  }
  process.on('uncaughtException', crash('uncaught exception'))
  process.on('unhandledRejection', crash('unhandled promise rejection'))
}

export async function startGateway(options: ServeOptions = {}): Promise<RunningGateway> {
  if (options.logLevel !== undefined && !LOG_LEVELS.includes(options.logLevel)) {
    throw new Error(`invalid log level "${options.logLevel}" (from --log-level or S3VEIL_LOG_LEVEL): one of ${LOG_LEVELS.join(', ')}`)
  }
  const logLevel = options.logLevel ?? 'info'
  // Synchronous, like the audit file: no record is lost at exit, and a log reader that went away
  // (EPIPE) turns logging off instead of hanging the exit flush of an asynchronous stream forever.
  const log = pino({ ...LOGGER_OPTIONS, level: logLevel }, pino.destination({ fd: 1, sync: true }))
  const defaults = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 7070,
    dataDir: resolve(options.dataDir ?? 's3veil-data'),
    logLevel,
  }
  let document: unknown
  let devCredentials: { accessKeyId: string; secretAccessKey: string; credentialsFile: string } | undefined
  let configText: string | undefined
  if (options.configFile) {
    configText = await readFile(options.configFile, 'utf8')
    document = parseConfigJson(configText, options.configFile)
    const problem = isPlainObject(document)
      ? exposedSecretsProblem(options.configFile, (await stat(options.configFile)).mode, document)
      : undefined
    if (problem) throw new Error(problem)
  } else {
    const { devCredentials: dev, ...embedded } = (await embeddedDefault(defaults.dataDir, log)) as {
      devCredentials: typeof devCredentials
    }
    devCredentials = dev
    document = embedded
  }
  let config: Config
  try {
    config = parseConfig(document, defaults)
  } catch (err) {
    // Name the file, and the line when the path can be found in it: a startup error should say where to look.
    if (options.configFile && err instanceof Error) {
      const line = err instanceof ConfigError && configText !== undefined ? lineOfPath(configText, err.path) : undefined
      err.message = `${options.configFile}${line === undefined ? '' : `:${line}`}: ${err.message}`
    }
    throw err
  }
  if (options.host) config.listen.host = options.host
  if (options.port !== undefined) config.listen.port = options.port
  if (options.tlsPort !== undefined) {
    if (!config.tls) throw new Error('--tls-port needs a "tls" section in the config (certificate and key)')
    config.tls.port = options.tlsPort
  }
  // The command line and environment win over the file, as for the listen address.
  log.level = options.logLevel ?? config.logLevel
  const audit = auditLogger(log, config.audit.file)
  const pending = new PendingRecords()
  let draining = false

  const resolveSecret = secretResolver(log)
  const ldapBindPassword = config.ldap?.bindPassword && (await resolveSecret(config.ldap.bindPassword, 'ldap.bindPassword'))
  const { basic, sts } = await buildPasswordAuth(config, log, resolveSecret, ldapBindPassword)
  const local = localCredentials(await resolveUsers(config, resolveSecret))
  // A request with a session token is a temporary session's, whose token alone says who it is.
  const temporary = sts && stsCredentials(sts.codec)
  const metrics = config.ops.metrics ? createNodeMetrics() : undefined
  const app = createApp({
    backend: await buildBackend(config, log, resolveSecret),
    platform: nodePlatform,
    credentials: temporary ? (id, token) => (token === undefined ? local(id) : temporary(id, token)) : local,
    basic,
    sts,
    policiesFor: policyLookup(config),
    adapter: nodeAdapter,
    audit: pinoAudit(log, audit, pending),
    metrics,
    ops: {
      checks: config.ldap ? { ldap: ldapCheck(config.ldap, ldapBindPassword) } : undefined,
      draining: () => draining,
      metricsToken: config.ops.metricsToken && (await resolveSecret(config.ops.metricsToken, 'ops.metricsToken')),
    },
    region: config.region,
    virtualHostDomains: config.virtualHostDomains,
    clientCertificates: clientCertificateAuth(config),
  })

  const fetch = (request: Request, env: unknown) => {
    pending.started()
    return app.fetch(request, env)
  }
  const servers: (HttpServer | HttpsServer)[] = []
  let closeReloader = () => {}
  let url: string | undefined
  let tlsUrl: string | undefined
  try {
    if (config.listen.enabled) {
      const { host, port } = config.listen
      const plain = await listening(serve({ fetch, hostname: host, port }) as HttpServer, 'listen', host, port)
      servers.push(plain)
      url = urlOf('http', plain)
    }
    if (config.tls) {
      const tls = config.tls
      const serverOptions = await tlsServerOptions(tls, resolveSecret)
      const secure = serve({
        fetch,
        hostname: tls.host,
        port: tls.port,
        createServer: createHttpsServer,
        serverOptions,
      }) as HttpsServer
      // Failed handshakes (old protocol, no shared suite, untrusted or missing client certificate, plain HTTP).
      secure.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
        log.info({ client: socket.remoteAddress, reason: err.code ?? err.message, securityEvent: 'tls-handshake-failed' }, 'TLS handshake failed')
        metrics?.countSecurityEvent('tls-handshake-failed')
      })
      servers.push(await listening(secure, 'tls', tls.host, tls.port))
      tlsUrl = urlOf('https', secure)
      closeReloader = watchCertificates(secure, tls, resolveSecret, log).close
      log.info({ certificate: describeCertificate(serverOptions.cert as string), minVersion: tls.minVersion }, 'TLS certificate loaded')
    }
  } catch (err) {
    for (const s of servers) s.close()
    throw err
  }
  url ??= tlsUrl!
  log.info({ url, ...(tlsUrl ? { tlsUrl } : {}), storage: config.storage.type }, 'listening')
  if (devCredentials) printDevBanner(url, devCredentials)
  const shutdownTimeoutSeconds = options.shutdownTimeoutSeconds ?? config.ops.shutdownTimeoutSeconds
  return {
    url,
    tlsUrl,
    shutdown: async (signal) => {
      draining = true
      closeReloader()
      await drain(servers, pending, shutdownTimeoutSeconds, log, signal)
    },
    close: async () => {
      closeReloader()
      await Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))))
    },
  }
}

/** After the connections are closed, how long shutdown waits for the last requests' audit records. */
const RECORD_GRACE_MS = 2000

/**
 * Graceful stop: no new connections; requests in flight may finish within the timeout, then the
 * connections still open are cut (an upload cut short stores nothing: its body never completes).
 */
async function drain(
  servers: (HttpServer | HttpsServer)[],
  pending: PendingRecords,
  timeoutSeconds: number,
  log: pino.Logger,
  signal: string
): Promise<void> {
  log.info({ signal, timeoutSeconds }, 'shutting down: no new connections, waiting for requests in flight')
  let cut = false
  const closed = Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))))
  // A keep-alive connection whose request has finished would otherwise hold the server open.
  const idle = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100)
  const timer = setTimeout(() => {
    cut = true
    log.warn({ timeoutSeconds }, 'shutdown timeout: cutting the requests still in flight')
    servers.forEach((s) => s.closeAllConnections())
  }, timeoutSeconds * 1000)
  try {
    await closed
  } finally {
    clearInterval(idle)
    clearTimeout(timer)
  }
  await pending.allWritten(RECORD_GRACE_MS)
  log.info({ cut }, 'stopped')
}

/** Resolves once the server listens; rejects, naming the address, when it cannot (in use, no permission). */
function listening<S extends HttpServer | HttpsServer>(server: S, what: string, host: string, port: number): Promise<S> {
  return new Promise((resolveServer, reject) => {
    if (server.listening) return resolveServer(server)
    server.once('listening', () => resolveServer(server))
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EACCES' ? 'permission denied' : err.message
      reject(new Error(`${what}: cannot listen on ${host}:${port}: ${why}${err.code ? ` (${err.code})` : ''}`))
    })
  })
}

function urlOf(scheme: 'http' | 'https', server: HttpServer | HttpsServer): string {
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `${scheme}://${host}:${address.port}`
}

/** Mutual TLS's user mapping: a mapped subject stands for that configured user, with their groups. */
function clientCertificateAuth(config: Config): ClientCertificateAuth | undefined {
  const mtls = config.tls?.clientCertificates
  if (!mtls) return undefined
  const userFor = subjectMapper(mtls.users)
  const groups = new Map(config.users.map((u) => [u.name, u.groups]))
  return {
    principalFor: (subject) => {
      const user = userFor(subject)
      return user === undefined ? undefined : { user, groups: groups.get(user) ?? [], method: 'mtls' }
    },
    requireSignature: mtls.requireSignature,
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
