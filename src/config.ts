/**
 * @module config
 * The gateway's configuration: a JSON document, validated here (pure: no file or env access).
 * Secrets may be given inline, or as `{ "file": path }` / `{ "env": NAME }` references that the
 * runtime entry resolves, so container secrets never have to sit in the config file.
 * Errors are plain `Error`s thrown at startup with the path of the offending field.
 */
import { parsePolicy, PolicyError, type Policy } from './auth/policy.js'

export type SecretRef = string | { file: string } | { env: string }

export interface UserConfig {
  name: string
  groups: string[]
  accessKeys: { id: string; secret: SecretRef; disabled: boolean }[]
  /** For HTTP Basic: a hash made by `s3veil hash-password` (never the password itself). */
  password?: SecretRef
  /** Names from `Config.policies`, checked to exist. */
  policies: string[]
}

export type StorageConfig =
  | { type: 'disk'; dataDir: string }
  | {
      type: 's3'
      endpoint?: string
      region: string
      /** Undefined: path style when an endpoint is set (S3-compatible stores), virtual-hosted for AWS. */
      forcePathStyle?: boolean
      accessKeyId?: SecretRef
      secretAccessKey?: SecretRef
      sessionToken?: SecretRef
      caBundle?: string
      /** Tests only: accept any upstream certificate (logged loudly). */
      insecureSkipVerify: boolean
    }

/** A directory for HTTP Basic users; see auth/ldap.ts for the meaning of each field. */
export interface LdapConfig {
  url: string
  /** Search-then-bind with this service account; without it, direct bind with `userDNTemplate`. */
  bindDN?: string
  bindPassword?: SecretRef
  userBase?: string
  userFilter: string
  userDNTemplate?: string
  groupAttribute: string
  groupBase?: string
  groupFilter: string
  startTLS: boolean
  /** PEM CA bundle for ldaps:// or StartTLS. */
  caFile?: string
  timeoutMs: number
  cacheTtlSeconds: number
}

/** Mutual TLS on the HTTPS listener; see tls.ts for how subjects are compared. */
export interface ClientCertificatesConfig {
  /** PEM file of the CAs whose client certificates are trusted. */
  ca: string
  /** Refuse the handshake without a trusted client certificate. */
  required: boolean
  /** Certificate subject (`CN=alice,O=Example`) → the name of a configured user. */
  users: Record<string, string>
  /** A certificate alone identifies no one: the request must also be signed, by the certificate's user. */
  requireSignature: boolean
}

export interface TlsConfig {
  host: string
  port: number
  /** PEM file: the certificate, then any intermediates. */
  cert: string
  key: SecretRef
  minVersion: 'TLSv1.2' | 'TLSv1.3'
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are all forward-secret AEAD); undefined: tls.ts's default. */
  ciphers?: string
  clientCertificates?: ClientCertificatesConfig
}

export interface Config {
  /** The plain-HTTP listener; `"listen": false` in the file turns it off (enabled: false). */
  listen: { host: string; port: number; enabled: boolean }
  /** The HTTPS listener, when configured. */
  tls?: TlsConfig
  region: string
  virtualHostDomains: string[]
  storage: StorageConfig
  plaintextBuckets: string[]
  keyring: { current: string; keys: { id: string; key: SecretRef }[] }
  users: UserConfig[]
  /** Named policy documents, validated. */
  policies: Record<string, Policy>
  /** Group name → the names of its policies; members get them in addition to their own. */
  groups: Record<string, { policies: string[] }>
  /** HTTP Basic on the S3 paths; off by default (passwords cross the wire with every request). */
  basicAuth: { enabled: boolean; failureBurst: number; failureRefillPerMinute: number }
  ldap?: LdapConfig
  /**
   * Temporary credentials for LDAP users (STS AssumeRoleWithLDAPIdentity); needs `ldap`. `tokenKey`
   * (32 bytes, base64) seals the session tokens: every instance that should accept them shares it.
   */
  sts?: { tokenKey: SecretRef }
  logLevel: string
  /** Where audit records go: stdout (with the rest of the log) unless a file is named. */
  audit: { file?: string }
  /** Operations endpoints and shutdown (README "Operations"). */
  ops: OpsConfig
}

export interface OpsConfig {
  /** Serve /-/metrics (Prometheus text). */
  metrics: boolean
  /** When set, /-/metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: SecretRef
  /** On SIGTERM/SIGINT, how long requests in flight may take before they are cut. */
  shutdownTimeoutSeconds: number
}

type Json = Record<string, unknown>

export class ConfigError extends Error {
  constructor(
    /** JSON path of the offending value, e.g. `policies.read.Statement[0].Effect`. */
    readonly path: string,
    problem: string
  ) {
    super(`config: ${path}: ${problem}`)
    this.name = 'ConfigError'
  }
}

/**
 * An object; with `allowed`, any other key is an error, so a misspelled setting (say `startTls` for
 * `startTLS`) stops the gateway instead of silently leaving the default (here: LDAP without TLS).
 */
function obj(value: unknown, path: string, allowed?: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(path, 'must be an object')
  if (allowed) {
    const unknown = Object.keys(value).find((key) => !allowed.includes(key))
    if (unknown !== undefined) {
      throw new ConfigError(path === '(top level)' ? unknown : `${path}.${unknown}`, `unknown setting (known: ${allowed.join(', ')})`)
    }
  }
  return value as Json
}

function str(value: unknown, path: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'string' || value === '') throw new ConfigError(path, 'must be a non-empty string')
  return value
}

function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new ConfigError(path, 'must be true or false')
  return value
}

function arr(value: unknown, path: string): unknown[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new ConfigError(path, 'must be an array')
  return value
}

function secret(value: unknown, path: string): SecretRef {
  if (typeof value === 'string' && value !== '') return value
  if (value === undefined || value === '') throw new ConfigError(path, 'is required: a string, {"file": path} or {"env": NAME}')
  const o = obj(value, path, ['file', 'env'])
  if (typeof o.file === 'string') return { file: o.file }
  if (typeof o.env === 'string') return { env: o.env }
  throw new ConfigError(path, 'must be a string, {"file": path} or {"env": NAME}')
}

function optionalSecret(value: unknown, path: string): SecretRef | undefined {
  return value === undefined ? undefined : secret(value, path)
}

function port(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(path, 'must be a port number (0-65535)')
  }
  return value
}

const TOP_LEVEL_KEYS = [
  'listen', 'tls', 'region', 'virtualHostDomains', 'storage', 'plaintextBuckets', 'keyring', 'users', 'policies', 'groups',
  'basicAuth', 'ldap', 'sts', 'logLevel', 'audit', 'ops',
]
const S3_STORAGE_KEYS = [
  'type', 'endpoint', 'region', 'forcePathStyle', 'accessKeyId', 'secretAccessKey', 'sessionToken', 'caBundle',
  'insecureSkipVerify',
]
const LDAP_KEYS = [
  'url', 'bindDN', 'bindPassword', 'userBase', 'userFilter', 'userDNTemplate', 'groupAttribute', 'groupBase',
  'groupFilter', 'startTLS', 'caFile', 'timeoutMs', 'cacheTtlSeconds',
]

function storage(value: unknown, defaults: { dataDir: string }): StorageConfig {
  if (value === undefined) return { type: 'disk', dataDir: defaults.dataDir }
  const s = obj(value, 'storage')
  obj(value, 'storage', s.type === 'disk' ? ['type', 'dataDir'] : S3_STORAGE_KEYS)
  if (s.type === 'disk') return { type: 'disk', dataDir: str(s.dataDir, 'storage.dataDir', defaults.dataDir) }
  if (s.type === 's3') {
    return {
      type: 's3',
      endpoint: s.endpoint === undefined ? undefined : str(s.endpoint, 'storage.endpoint'),
      region: str(s.region, 'storage.region', 'us-east-1'),
      forcePathStyle: s.forcePathStyle === undefined ? undefined : bool(s.forcePathStyle, 'storage.forcePathStyle', false),
      accessKeyId: optionalSecret(s.accessKeyId, 'storage.accessKeyId'),
      secretAccessKey: optionalSecret(s.secretAccessKey, 'storage.secretAccessKey'),
      sessionToken: optionalSecret(s.sessionToken, 'storage.sessionToken'),
      caBundle: s.caBundle === undefined ? undefined : str(s.caBundle, 'storage.caBundle'),
      insecureSkipVerify: bool(s.insecureSkipVerify, 'storage.insecureSkipVerify', false),
    }
  }
  throw new ConfigError('storage.type', 'must be "disk" or "s3"')
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/

function keyring(value: unknown): Config['keyring'] {
  const k = obj(value, 'keyring', ['current', 'keys'])
  const keys = arr(k.keys, 'keyring.keys').map((entry, i) => {
    const e = obj(entry, `keyring.keys[${i}]`, ['id', 'key'])
    const id = str(e.id, `keyring.keys[${i}].id`)
    if (!KEY_ID.test(id)) throw new ConfigError(`keyring.keys[${i}].id`, 'must match [A-Za-z0-9._-]{1,64}')
    return { id, key: secret(e.key, `keyring.keys[${i}].key`) }
  })
  if (keys.length === 0) throw new ConfigError('keyring.keys', 'needs at least one key')
  const current = str(k.current, 'keyring.current', keys[0]?.id)
  if (!keys.some((key) => key.id === current)) throw new ConfigError('keyring.current', `no key with id "${current}"`)
  if (new Set(keys.map((key) => key.id)).size !== keys.length) throw new ConfigError('keyring.keys', 'ids must be unique')
  return { current, keys }
}

function policies(value: unknown): Record<string, Policy> {
  if (value === undefined) return {}
  const out: Record<string, Policy> = {}
  for (const [name, document] of Object.entries(obj(value, 'policies'))) {
    try {
      out[name] = parsePolicy(name, document)
    } catch (err) {
      if (err instanceof PolicyError) throw new ConfigError(`policies.${name}.${err.path}`, err.problem)
      throw err
    }
  }
  return out
}

function policyNames(value: unknown, path: string, known: Record<string, Policy>): string[] {
  return arr(value, path).map((entry, i) => {
    const name = str(entry, `${path}[${i}]`)
    if (!Object.hasOwn(known, name)) throw new ConfigError(`${path}[${i}]`, `no policy named "${name}" in "policies"`)
    return name
  })
}

function groups(value: unknown, known: Record<string, Policy>): Config['groups'] {
  if (value === undefined) return {}
  const out: Config['groups'] = {}
  for (const [name, entry] of Object.entries(obj(value, 'groups'))) {
    const g = obj(entry, `groups.${name}`, ['policies'])
    out[name] = { policies: policyNames(g.policies, `groups.${name}.policies`, known) }
  }
  return out
}

function users(value: unknown, known: Record<string, Policy>): UserConfig[] {
  const seenKeys = new Set<string>()
  return arr(value, 'users').map((entry, i) => {
    const u = obj(entry, `users[${i}]`, ['name', 'groups', 'accessKeys', 'password', 'policies'])
    return {
      name: str(u.name, `users[${i}].name`),
      groups: arr(u.groups, `users[${i}].groups`).map((g, j) => str(g, `users[${i}].groups[${j}]`)),
      accessKeys: arr(u.accessKeys, `users[${i}].accessKeys`).map((keyEntry, j) => {
        const path = `users[${i}].accessKeys[${j}]`
        const k = obj(keyEntry, path, ['id', 'secret', 'disabled'])
        const id = str(k.id, `${path}.id`)
        if (seenKeys.has(id)) throw new ConfigError(`${path}.id`, 'access key ids must be unique')
        seenKeys.add(id)
        return { id, secret: secret(k.secret, `${path}.secret`), disabled: bool(k.disabled, `${path}.disabled`, false) }
      }),
      password: optionalSecret(u.password, `users[${i}].password`),
      policies: policyNames(u.policies, `users[${i}].policies`, known),
    }
  })
}

function positiveInt(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ConfigError(path, 'must be a positive integer')
  return value
}

function basicAuth(value: unknown): Config['basicAuth'] {
  const b = value === undefined ? {} : obj(value, 'basicAuth', ['enabled', 'failureBurst', 'failureRefillPerMinute'])
  return {
    enabled: bool(b.enabled, 'basicAuth.enabled', false),
    failureBurst: positiveInt(b.failureBurst, 'basicAuth.failureBurst', 10),
    failureRefillPerMinute: positiveInt(b.failureRefillPerMinute, 'basicAuth.failureRefillPerMinute', 10),
  }
}

function ldap(value: unknown): LdapConfig | undefined {
  if (value === undefined) return undefined
  const l = obj(value, 'ldap', LDAP_KEYS)
  const url = str(l.url, 'ldap.url')
  if (!/^ldaps?:\/\//i.test(url)) throw new ConfigError('ldap.url', 'must start with ldap:// or ldaps://')
  const template = (v: unknown, path: string, fallback: string, placeholder: string) => {
    const t = str(v, path, fallback)
    if (!t.includes(placeholder)) throw new ConfigError(path, `must contain ${placeholder}`)
    return t
  }
  const userDNTemplate = l.userDNTemplate === undefined ? undefined : template(l.userDNTemplate, 'ldap.userDNTemplate', '', '{username}')
  if (l.bindDN === undefined && userDNTemplate === undefined) {
    throw new ConfigError('ldap', 'needs "bindDN" (search-then-bind) or "userDNTemplate" (direct bind)')
  }
  // With a service account, search-then-bind is used and userDNTemplate is ignored.
  const search = l.bindDN !== undefined
  return {
    url,
    bindDN: search ? str(l.bindDN, 'ldap.bindDN') : undefined,
    bindPassword: search ? secret(l.bindPassword, 'ldap.bindPassword') : undefined,
    userBase: search ? str(l.userBase, 'ldap.userBase') : undefined,
    userFilter: template(l.userFilter, 'ldap.userFilter', '(uid={username})', '{username}'),
    userDNTemplate,
    groupAttribute: str(l.groupAttribute, 'ldap.groupAttribute', 'memberOf'),
    groupBase: l.groupBase === undefined ? undefined : str(l.groupBase, 'ldap.groupBase'),
    groupFilter: str(l.groupFilter, 'ldap.groupFilter', '(member={dn})'),
    startTLS: bool(l.startTLS, 'ldap.startTLS', false),
    caFile: l.caFile === undefined ? undefined : str(l.caFile, 'ldap.caFile'),
    timeoutMs: positiveInt(l.timeoutMs, 'ldap.timeoutMs', 3000),
    cacheTtlSeconds: positiveInt(l.cacheTtlSeconds, 'ldap.cacheTtlSeconds', 60),
  }
}

function sts(value: unknown, hasLdap: boolean): Config['sts'] {
  if (value === undefined) return undefined
  const s = obj(value, 'sts', ['tokenKey'])
  if (!hasLdap) throw new ConfigError('sts', 'needs "ldap": temporary credentials are issued to LDAP users')
  return { tokenKey: secret(s.tokenKey, 'sts.tokenKey') }
}

const TLS_KEYS = ['host', 'port', 'cert', 'key', 'minVersion', 'ciphers', 'clientCertificates']
const CLIENT_CERT_KEYS = ['ca', 'required', 'users', 'requireSignature']

function tls(value: unknown, defaults: { host: string }, userNames: Set<string>): TlsConfig | undefined {
  if (value === undefined) return undefined
  const t = obj(value, 'tls', TLS_KEYS)
  const minVersion = str(t.minVersion, 'tls.minVersion', 'TLSv1.2')
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') throw new ConfigError('tls.minVersion', 'must be "TLSv1.2" or "TLSv1.3"')
  let clientCertificates: ClientCertificatesConfig | undefined
  if (t.clientCertificates !== undefined) {
    const c = obj(t.clientCertificates, 'tls.clientCertificates', CLIENT_CERT_KEYS)
    const users: Record<string, string> = {}
    for (const [subject, name] of Object.entries(c.users === undefined ? {} : obj(c.users, 'tls.clientCertificates.users'))) {
      const path = `tls.clientCertificates.users.${subject}`
      // A mapped certificate gets that user's policies, so the user must exist (a typo would deny everything).
      if (!userNames.has(str(name, path))) throw new ConfigError(path, `no user named "${String(name)}" in "users"`)
      if (!/^\s*[A-Za-z][\w.-]*\s*=/.test(subject)) throw new ConfigError(path, 'the key must be a subject such as "CN=alice,O=Example"')
      users[subject] = name as string
    }
    clientCertificates = {
      ca: str(c.ca, 'tls.clientCertificates.ca'),
      required: bool(c.required, 'tls.clientCertificates.required', false),
      users,
      requireSignature: bool(c.requireSignature, 'tls.clientCertificates.requireSignature', false),
    }
  }
  return {
    host: str(t.host, 'tls.host', defaults.host),
    port: port(t.port, 'tls.port', 7443),
    cert: str(t.cert, 'tls.cert'),
    key: secret(t.key, 'tls.key'),
    minVersion,
    ciphers: t.ciphers === undefined ? undefined : str(t.ciphers, 'tls.ciphers'),
    clientCertificates,
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function logLevel(value: unknown, fallback: string): string {
  const level = str(value, 'logLevel', fallback)
  if (!LOG_LEVELS.includes(level)) throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`)
  return level
}

function audit(value: unknown): Config['audit'] {
  if (value === undefined) return {}
  const a = obj(value, 'audit', ['file'])
  return { file: a.file === undefined ? undefined : str(a.file, 'audit.file') }
}

function ops(value: unknown): OpsConfig {
  const o = value === undefined ? {} : obj(value, 'ops', ['metrics', 'metricsToken', 'shutdownTimeoutSeconds'])
  return {
    metrics: bool(o.metrics, 'ops.metrics', true),
    metricsToken: optionalSecret(o.metricsToken, 'ops.metricsToken'),
    shutdownTimeoutSeconds: positiveInt(o.shutdownTimeoutSeconds, 'ops.shutdownTimeoutSeconds', 25),
  }
}

/**
 * A user's policies in force: their own, then their groups' (a group without an entry in `groups`
 * grants nothing). Order does not matter to evaluation; duplicates are dropped.
 */
export function effectivePolicies(
  config: Pick<Config, 'policies' | 'groups'>,
  user: { groups: string[]; policies: string[] }
): Policy[] {
  const names = new Set(user.policies)
  for (const group of user.groups) {
    for (const name of Object.hasOwn(config.groups, group) ? config.groups[group]!.policies : []) names.add(name)
  }
  return [...names].map((name) => config.policies[name]!)
}

/**
 * Validates a parsed config document. `defaults` are what command-line flags and the environment
 * supply; flags win over the file for listen address and data directory.
 */
export function parseConfig(
  document: unknown,
  defaults: { host: string; port: number; dataDir: string; logLevel: string }
): Config {
  const d = obj(document, '(top level)', TOP_LEVEL_KEYS)
  // `"listen": false` turns plain HTTP off (HTTPS only).
  const listen = d.listen === undefined || d.listen === false ? {} : obj(d.listen, 'listen', ['host', 'port'])
  const known = policies(d.policies)
  const userList = users(d.users, known)
  const tlsConfig = tls(d.tls, defaults, new Set(userList.map((u) => u.name)))
  if (d.listen === false && !tlsConfig) throw new ConfigError('listen', 'may only be false when "tls" configures an HTTPS listener')
  return {
    listen: {
      host: str(listen.host, 'listen.host', defaults.host),
      port: port(listen.port, 'listen.port', defaults.port),
      enabled: d.listen !== false,
    },
    tls: tlsConfig,
    region: str(d.region, 'region', 'us-east-1'),
    virtualHostDomains: arr(d.virtualHostDomains, 'virtualHostDomains').map((v, i) => str(v, `virtualHostDomains[${i}]`)),
    storage: storage(d.storage, defaults),
    plaintextBuckets: arr(d.plaintextBuckets, 'plaintextBuckets').map((v, i) => str(v, `plaintextBuckets[${i}]`)),
    keyring: keyring(d.keyring),
    users: userList,
    policies: known,
    groups: groups(d.groups, known),
    basicAuth: basicAuth(d.basicAuth),
    ldap: ldap(d.ldap),
    sts: sts(d.sts, d.ldap !== undefined),
    logLevel: logLevel(d.logLevel, defaults.logLevel),
    audit: audit(d.audit),
    ops: ops(d.ops),
  }
}
