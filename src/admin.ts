/**
 * @module admin
 * What `s3veil user …` and `s3veil key …` do to a gateway config file: edits of the parsed JSON
 * document (pure; they throw `AdminError` with a message meant for the operator), key generation,
 * and the file handling around them — permission checks, validation with the config parser before
 * anything is replaced, atomic writes, and access-key secrets kept in their own 0600 files.
 *
 * Access-key secrets cannot be hashed: SigV4 verification needs the raw secret as its HMAC key. So
 * new secrets go to `<config dir>/secrets/<key id>` and the config refers to them by
 * `{ "file": path }`, which keeps the config itself free of secrets.
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { parseConfig } from './config.js'

export class AdminError extends Error {
  override name = 'AdminError'
}

type Json = Record<string, unknown>

export interface KeySummary {
  id: string
  disabled: boolean
}

export interface UserSummary {
  name: string
  groups: string[]
  policies: string[]
  accessKeys: KeySummary[]
}

/** IAM's user-name alphabet: safe in a terminal table and in a credentials-file profile name. */
const USER_NAME = /^[A-Za-z0-9_+=,.@-]{1,64}$/

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** The document's user entries; malformed ones are left for the config parser to report. */
function userEntries(doc: Json): Json[] {
  return Array.isArray(doc.users) ? doc.users.filter(isObject) : []
}

function keyEntries(user: Json): Json[] {
  return Array.isArray(user.accessKeys) ? user.accessKeys.filter(isObject) : []
}

function usersNamed(doc: Json, name: string): Json[] {
  const found = userEntries(doc).filter((u) => u.name === name)
  if (found.length === 0) throw new AdminError(`no user named "${name}"`)
  return found
}

/** A deep copy, so a failed edit or validation never leaves a half-changed document behind. */
function copy(doc: Json): Json {
  return structuredClone(doc)
}

export function addUser(doc: Json, user: { name: string; groups?: string[]; policies?: string[] }): Json {
  if (!USER_NAME.test(user.name)) throw new AdminError(`user name "${user.name}" must match ${USER_NAME.source}`)
  if (userEntries(doc).some((u) => u.name === user.name)) throw new AdminError(`user "${user.name}" already exists`)
  const defined = isObject(doc.policies) ? doc.policies : {}
  for (const policy of user.policies ?? []) {
    if (!Object.hasOwn(defined, policy)) throw new AdminError(`no policy named "${policy}" in the config's "policies"`)
  }
  const out = copy(doc)
  const entry: Json = {
    name: user.name,
    groups: [...(user.groups ?? [])],
    policies: [...(user.policies ?? [])],
    accessKeys: [],
  }
  out.users = [...(Array.isArray(out.users) ? out.users : []), entry]
  return out
}

/** Names, groups, policies and key ids with their state: never a secret or a password hash. */
export function listUsers(doc: Json): UserSummary[] {
  return userEntries(doc).map((u) => ({
    name: typeof u.name === 'string' ? u.name : '(unnamed)',
    groups: strings(u.groups),
    policies: strings(u.policies),
    accessKeys: keyEntries(u).map((k) => ({ id: String(k.id), disabled: k.disabled === true })),
  }))
}

export function formatUserList(users: UserSummary[]): string {
  if (users.length === 0) return '(no users)\n'
  const lines: string[] = []
  for (const u of users) {
    lines.push(`${u.name}  groups: ${u.groups.join(', ') || '-'}  policies: ${u.policies.join(', ') || '-'}`)
    if (u.accessKeys.length === 0) lines.push('  (no access keys)')
    for (const k of u.accessKeys) lines.push(`  ${k.id}  ${k.disabled ? 'disabled' : 'enabled'}`)
  }
  return lines.join('\n') + '\n'
}

/**
 * Disables every access key of the user (every entry of that name). Whether they still have a
 * password for HTTP Basic is reported, since disabling keys does not stop that.
 */
export function disableUser(doc: Json, name: string): { doc: Json; disabledKeys: string[]; hasPassword: boolean } {
  usersNamed(doc, name)
  const out = copy(doc)
  const disabledKeys: string[] = []
  let hasPassword = false
  for (const user of usersNamed(out, name)) {
    if (user.password !== undefined) hasPassword = true
    for (const key of keyEntries(user)) {
      if (key.disabled !== true) disabledKeys.push(String(key.id))
      key.disabled = true
    }
  }
  return { doc: out, disabledKeys, hasPassword }
}

function allKeyIds(doc: Json): Set<string> {
  return new Set(userEntries(doc).flatMap((u) => keyEntries(u).map((k) => String(k.id))))
}

/** Adds a key to the (first) entry of that user; the secret is given as a reference, never inline here. */
export function addKey(doc: Json, userName: string, key: { id: string; secret: { file: string } | { env: string } }): Json {
  usersNamed(doc, userName)
  if (allKeyIds(doc).has(key.id)) throw new AdminError(`access key id "${key.id}" is already in use`)
  const out = copy(doc)
  const user = usersNamed(out, userName)[0]!
  user.accessKeys = [...(Array.isArray(user.accessKeys) ? user.accessKeys : []), { id: key.id, secret: key.secret }]
  return out
}

/** Disables the key, or with `remove` deletes its entry; returns its secret reference (to clean up a file). */
export function revokeKey(doc: Json, keyId: string, remove = false): { doc: Json; user: string; secret: unknown } {
  const out = copy(doc)
  for (const user of userEntries(out)) {
    const keys = keyEntries(user)
    const key = keys.find((k) => k.id === keyId)
    if (!key) continue
    if (remove) user.accessKeys = (user.accessKeys as unknown[]).filter((k) => k !== key)
    else key.disabled = true
    return { doc: out, user: String(user.name), secret: key.secret }
  }
  throw new AdminError(`no access key with id "${keyId}"`)
}

/**
 * JSON paths of secrets written into the document itself (strings rather than file/env
 * references). Password hashes count: a readable hash invites an offline guessing attack.
 */
export function inlineSecretPaths(doc: Json): string[] {
  const paths: string[] = []
  const check = (value: unknown, path: string) => {
    if (typeof value === 'string') paths.push(path)
  }
  if (isObject(doc.storage)) {
    for (const field of ['accessKeyId', 'secretAccessKey', 'sessionToken']) check(doc.storage[field], `storage.${field}`)
  }
  if (isObject(doc.keyring) && Array.isArray(doc.keyring.keys)) {
    doc.keyring.keys.forEach((k, i) => isObject(k) && check(k.key, `keyring.keys[${i}].key`))
  }
  if (isObject(doc.ldap)) check(doc.ldap.bindPassword, 'ldap.bindPassword')
  if (isObject(doc.sts)) check(doc.sts.tokenKey, 'sts.tokenKey')
  if (isObject(doc.tls)) check(doc.tls.key, 'tls.key')
  if (isObject(doc.ops)) check(doc.ops.metricsToken, 'ops.metricsToken')
  userEntries(doc).forEach((u, i) => {
    check(u.password, `users[${i}].password`)
    keyEntries(u).forEach((k, j) => check(k.secret, `users[${i}].accessKeys[${j}].secret`))
  })
  return paths
}

// --- key material --------------------------------------------------------------------------------

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Uniform over the alphabet: bytes at or above the largest multiple of its length are drawn again. */
export function randomString(alphabet: string, length: number, random: (n: number) => Uint8Array = randomBytes): string {
  const limit = 256 - (256 % alphabet.length)
  let out = ''
  while (out.length < length) {
    for (const b of random(length)) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length]
    }
  }
  return out
}

/** 20 characters, upper case, like AWS's `AKIA…` ids (and the embedded default's `S3VEIL…`). */
export function newAccessKeyId(): string {
  return 'S3VEIL' + randomString(ID_ALPHABET, 14)
}

/** 40 characters from 62, some 238 bits: the length of an AWS secret access key. */
export function newSecretAccessKey(): string {
  return randomString(SECRET_ALPHABET, 40)
}

export function credentialsText(user: string, id: string, secret: string, secretFile: string): string {
  return [
    `Access key for user "${user}" (the secret is shown only this once; the gateway reads it from ${secretFile}):`,
    `  access key id:     ${id}`,
    `  secret access key: ${secret}`,
    '',
    '# for ~/.aws/credentials',
    `[${user}]`,
    `aws_access_key_id = ${id}`,
    `aws_secret_access_key = ${secret}`,
    '',
  ].join('\n')
}

// --- the config file -------------------------------------------------------------------------------

export interface LoadedConfig {
  /** The real path (symlinks resolved), so the rename replaces the file and not a link to it. */
  path: string
  mode: number
  text: string
  doc: Json
}

/** Only the shape matters here; the listen/data defaults are what `serve` would fill in. */
export function validate(doc: Json, path: string): void {
  try {
    parseConfig(doc, { host: '127.0.0.1', port: 7070, dataDir: resolve('s3veil-data'), logLevel: 'info' })
  } catch (err) {
    throw new AdminError(`${path}: the edited config would not be valid, nothing was changed: ${(err as Error).message}`)
  }
}

/**
 * Why a config file with inline secrets must not be used at this mode (readable or writable by group
 * or others), or undefined when it may. Refused rather than fixed: whoever could read it may have
 * copied the secrets already. Shared by the admin commands and `serve`.
 */
export function exposedSecretsProblem(file: string, mode: number, doc: Json): string | undefined {
  const inline = inlineSecretPaths(doc)
  if (inline.length === 0 || (mode & 0o066) === 0) return undefined
  return (
    `${file} holds secrets inline (${inline.join(', ')}) but is readable or writable by group or others ` +
    `(mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it, and consider rotating those secrets or moving them ` +
    `to {"file": …} / {"env": …} references`
  )
}

export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const path = await realpath(file).catch((err: NodeJS.ErrnoException) => {
    throw new AdminError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
  })
  const info = await stat(path)
  const text = await readFile(path, 'utf8')
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new AdminError(`${file}: not valid JSON: ${(err as Error).message}`)
  }
  if (!isObject(doc)) throw new AdminError(`${file}: must hold a JSON object`)
  const mode = info.mode & 0o777
  const problem = exposedSecretsProblem(file, mode, doc)
  if (problem) throw new AdminError(problem)
  return { path, mode, text, doc }
}

/**
 * Validates `doc`, then replaces the file by a temp file in the same directory and a rename, so a
 * reader (a gateway starting) sees the old or the new file, never half of one. The mode is kept.
 */
export async function saveConfigFile(loaded: LoadedConfig, doc: Json): Promise<void> {
  validate(doc, loaded.path)
  const temp = join(dirname(loaded.path), `.${basename(loaded.path)}.${randomString(ID_ALPHABET, 8).toLowerCase()}.tmp`)
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(JSON.stringify(doc, null, 2) + '\n')
    // open()'s mode goes through the umask; chmod sets exactly the original's.
    await handle.chmod(loaded.mode)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(temp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await rename(temp, loaded.path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/**
 * Loads the file under a lock and runs `edit` on it. The lock serializes CLI runs on one config:
 * two concurrent `key create`s would otherwise each rename their version over the other's, and one
 * key would be lost. It is taken before reading, so each edit starts from the previous one's result.
 */
export async function editConfigFile<T>(file: string, edit: (loaded: LoadedConfig) => Promise<T>): Promise<T> {
  const path = await realpath(file).catch((err: NodeJS.ErrnoException) => {
    throw new AdminError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
  })
  const lock = `${path}.lock`
  const handle = await open(lock, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') {
      throw new AdminError(
        `${lock} exists: another s3veil command is editing the config (or one crashed: then remove the lock file)`
      )
    }
    throw err
  })
  await handle.close()
  try {
    return await edit(await loadConfigFile(path))
  } finally {
    await rm(lock, { force: true })
  }
}

export function secretsDir(configPath: string): string {
  return join(dirname(configPath), 'secrets')
}

/** `<config dir>/secrets`, mode 0700; an existing directory others can get into is refused. */
async function ensureSecretsDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const info = await lstat(dir)
  if (!info.isDirectory()) throw new AdminError(`${dir} is not a directory`)
  if ((info.mode & 0o077) !== 0) {
    throw new AdminError(`${dir} is accessible by group or others (mode ${(info.mode & 0o777).toString(8)}): chmod 700 it`)
  }
}

/**
 * Creates a key for `user`: the secret goes to its own 0600 file first, then the config that names
 * it is written; if that fails the secret file is removed again. Returns what to show the operator.
 */
export async function createKeyInFile(
  loaded: LoadedConfig,
  user: string
): Promise<{ id: string; secret: string; secretFile: string }> {
  const id = newAccessKeyId()
  const secret = newSecretAccessKey()
  const dir = secretsDir(loaded.path)
  // Absolute: the gateway resolves {"file": …} against its own working directory, not the config's.
  const secretFile = join(dir, id)
  const doc = addKey(loaded.doc, user, { id, secret: { file: secretFile } })
  validate(doc, loaded.path)
  await ensureSecretsDir(dir)
  const handle = await open(secretFile, 'wx', 0o600)
  try {
    await handle.writeFile(secret + '\n')
    await handle.chmod(0o600)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await saveConfigFile(loaded, doc)
  } catch (err) {
    await rm(secretFile, { force: true })
    throw err
  }
  return { id, secret, secretFile }
}

/** Revokes (or with `remove` deletes) a key; a deleted key's secret file is removed if this tool made it. */
export async function revokeKeyInFile(loaded: LoadedConfig, keyId: string, remove: boolean): Promise<{ user: string }> {
  const { doc, user, secret } = revokeKey(loaded.doc, keyId, remove)
  await saveConfigFile(loaded, doc)
  const ours = join(secretsDir(loaded.path), keyId)
  if (remove && isObject(secret) && typeof secret.file === 'string' && resolve(secret.file) === ours) {
    await rm(ours, { force: true })
  }
  return { user }
}

