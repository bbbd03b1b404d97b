/**
 * @module node
 * The Node entry: resolves configuration (a config file, or the embedded default with generated
 * development keys), builds the app's dependencies, and serves it with @hono/node-server.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { serve, type HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'
import pino from 'pino'
import { createApp } from './app.js'
import type { AuditLog } from './audit.js'
import { createBasicAuthenticator, FailureThrottle, type BasicAuthenticator, type PasswordVerifier } from './auth/basic.js'
import { createLdapVerifier } from './auth/ldap.js'
import { localPasswords } from './auth/password.js'
import { FULL_ACCESS_DOCUMENT, type Policy } from './auth/policy.js'
import type { Principal } from './auth/principal.js'
import { createStsCodec, stsCredentials } from './auth/sts.js'
import { localCredentials, type LocalUser } from './auth/users.js'
import { createEncryptedBackend } from './backend/encrypted.js'
import { createFilesystemBackend } from './backend/filesystem.js'
import { createS3UpstreamBackend } from './backend/s3-upstream.js'
import type { Backend } from './backend/types.js'
import { ConfigError, effectivePolicies, parseConfig, type Config, type SecretRef } from './config.js'
import { createKeyring } from './crypto/keyring.js'
import type { RuntimeAdapter } from './env.js'
import { lineOfPath, syntaxErrorPosition } from './json-locate.js'
import { nodePlatform } from './platform/node.js'
import { S3Error } from './s3/errors.js'
import type { StsService } from './sts-endpoint.js'
import type { ByteSource } from './platform/types.js'

export interface ServeOptions {
  host?: string
  port?: number
  dataDir?: string
  configFile?: string
  logLevel?: string
}

export interface RunningGateway {
  url: string
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
  abortResponse: (c) => {
    const outgoing = (c as NodeContext).env.outgoing as ServerResponse
    outgoing.destroy()
  },
}

async function resolveSecret(ref: SecretRef, what: string): Promise<string> {
  if (typeof ref === 'string') return ref
  if ('env' in ref) {
    const value = process.env[ref.env]
    if (value === undefined || value === '') throw new Error(`${what}: environment variable ${ref.env} is not set`)
    return value
  }
  return (await readFile(ref.file, 'utf8')).trim()
}

async function fileExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false
  )
}

function randomToken(alphabet: string, length: number): string {
  const bytes = nodePlatform.randomBytes(length)
  let out = ''
  for (const b of bytes) out += alphabet[b % alphabet.length]
  return out
}

/**
 * The embedded default: disk storage in `dataDir`, a development master key and user generated on
 * first start (files mode 0600) and an AWS shared-credentials file for aws-cli's `--profile s3veil`.
 */
async function embeddedDefault(dataDir: string, log: pino.Logger): Promise<unknown> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const keyFile = join(dataDir, 'dev-master.key')
  const userFile = join(dataDir, 'dev-user.json')
  const credentialsFile = join(dataDir, 'aws-credentials')
  if (!(await fileExists(keyFile))) {
    await writeFile(keyFile, Buffer.from(nodePlatform.randomBytes(32)).toString('base64') + '\n', { mode: 0o600 })
  }
  await chmod(keyFile, 0o600)
  if (!(await fileExists(userFile))) {
    const user = {
      accessKeyId: 'S3VEIL' + randomToken('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 14),
      secretAccessKey: randomToken('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 40),
    }
    await writeFile(userFile, JSON.stringify(user, null, 2) + '\n', { mode: 0o600 })
  }
  const user = JSON.parse(await readFile(userFile, 'utf8')) as { accessKeyId: string; secretAccessKey: string }
  await writeFile(
    credentialsFile,
    `[s3veil]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`,
    { mode: 0o600 }
  )
  log.warn({ keyFile }, 'DEVELOPMENT MASTER KEY in use: generated on first start and stored next to the data. Do not use for real data.')
  return {
    storage: { type: 'disk', dataDir },
    keyring: { current: 'dev', keys: [{ id: 'dev', key: { file: keyFile } }] },
    // Policies deny by default; the one development user is meant to be able to do everything.
    policies: { 'full-access': FULL_ACCESS_DOCUMENT },
    users: [{ name: 'dev', accessKeys: [{ id: user.accessKeyId, secret: user.secretAccessKey }], policies: ['full-access'] }],
    devCredentials: { ...user, credentialsFile },
  }
}

/** Parses a config file's text; a syntax error names `file:line:column`. */
function parseConfigText(file: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const at = syntaxErrorPosition(text, err)
    // Node 20 quotes the text around the error; config files may hold inline secrets, so keep only the gist.
    const gist = err instanceof Error ? err.message.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '') : ''
    const where = at ? `${file}:${at.line}:${at.column}` : file
    // No `cause` either, for the same reason.
    throw new Error(`${where}: config: not valid JSON${gist ? ` (${gist})` : ''}`)
  }
}

async function buildBackend(config: Config): Promise<Backend> {
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
    })
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
async function buildPasswordAuth(config: Config, log: pino.Logger): Promise<{ basic?: BasicAuthenticator; sts?: StsService }> {
  const throttle = new FailureThrottle({ burst: config.basicAuth.failureBurst, refillPerMinute: config.basicAuth.failureRefillPerMinute })
  const ldap = config.ldap
  let ldapVerifier: PasswordVerifier | undefined
  if (ldap) {
    ldapVerifier = createLdapVerifier({
      url: ldap.url,
      bindDN: ldap.bindDN,
      bindPassword: ldap.bindPassword === undefined ? undefined : await resolveSecret(ldap.bindPassword, 'ldap.bindPassword'),
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
    basic = createBasicAuthenticator([localPasswords(users), ...(ldapVerifier ? [ldapVerifier] : [])], throttle)
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

async function resolveUsers(config: Config): Promise<LocalUser[]> {
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

/** DNs compare case-insensitively and regardless of spaces around separators (`CN=Staff, OU=…`). */
function groupKey(name: string): string {
  return name.includes('=') ? name.toLowerCase().replace(/\s*([,=+])\s*/g, '$1') : name
}

/**
 * Policies by user name (a name listed twice gets both entries' policies). Directory users get their
 * groups' policies only, the groups named in `groups` by cn or by DN.
 */
function policyLookup(config: Config): (principal: Principal) => readonly Policy[] {
  const byUser = new Map<string, Policy[]>()
  for (const user of config.users) {
    byUser.set(user.name, [...(byUser.get(user.name) ?? []), ...effectivePolicies(config, user)])
  }
  const groupNames = new Map(Object.keys(config.groups).map((name) => [groupKey(name), name]))
  return (principal) => {
    if (principal.directory !== 'ldap') return byUser.get(principal.user) ?? []
    const groups = principal.groups.flatMap((g) => groupNames.get(groupKey(g)) ?? [])
    return effectivePolicies(config, { groups, policies: [] })
  }
}

function pinoAudit(log: pino.Logger): AuditLog {
  return {
    request: (record) => log.info({ ...record, msg: 'request' }),
    internalError: (requestId, err) => log.error({ requestId, err }, 'internal error'),
  }
}

export async function startGateway(options: ServeOptions = {}): Promise<RunningGateway> {
  const logLevel = options.logLevel ?? 'info'
  const log = pino({ level: logLevel, base: { service: 's3veil' } })
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
    document = parseConfigText(options.configFile, configText)
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
  log.level = config.logLevel

  const { basic, sts } = await buildPasswordAuth(config, log)
  const local = localCredentials(await resolveUsers(config))
  // A request with a session token is a temporary session's, whose token alone says who it is.
  const temporary = sts && stsCredentials(sts.codec)
  const app = createApp({
    backend: await buildBackend(config),
    platform: nodePlatform,
    credentials: temporary ? (id, token) => (token === undefined ? local(id) : temporary(id, token)) : local,
    basic,
    sts,
    policiesFor: policyLookup(config),
    adapter: nodeAdapter,
    audit: pinoAudit(log),
    region: config.region,
    virtualHostDomains: config.virtualHostDomains,
  })

  const server = await new Promise<ReturnType<typeof serve>>((resolveServer, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.listen.host, port: config.listen.port }, () => resolveServer(s))
    s.once('error', reject)
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  log.info({ url, storage: config.storage.type }, 'listening')
  if (devCredentials) printDevBanner(url, devCredentials)
  return {
    url,
    close: () => new Promise<void>((done) => server.close(() => done())),
  }
}

function printDevBanner(url: string, creds: { accessKeyId: string; secretAccessKey: string; credentialsFile: string }): void {
  process.stderr.write(
    [
      '',
      's3veil is running on its embedded default (local disk, development keys).',
      `  endpoint:          ${url}`,
      `  access key id:     ${creds.accessKeyId}`,
      `  secret access key: ${creds.secretAccessKey}`,
      `  credentials file:  ${creds.credentialsFile} (profile "s3veil")`,
      '',
      'Try:',
      `  export AWS_SHARED_CREDENTIALS_FILE=${creds.credentialsFile}`,
      `  aws --profile s3veil --endpoint-url ${url} s3 mb s3://demo`,
      `  aws --profile s3veil --endpoint-url ${url} s3 cp README.md s3://demo/`,
      '',
    ].join('\n')
  )
}

