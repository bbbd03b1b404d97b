import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  AdminError,
  addKey,
  addUser,
  createKeyInFile,
  disableUser,
  editConfigFile,
  formatUserList,
  inlineSecretPaths,
  listUsers,
  loadConfigFile,
  newAccessKeyId,
  newSecretAccessKey,
  randomString,
  revokeKey,
  revokeKeyInFile,
  saveConfigFile,
} from './admin.js'

const FULL = { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }

function baseDoc(): Record<string, unknown> {
  return {
    storage: { type: 'disk', dataDir: '/tmp/unused' },
    keyring: { keys: [{ id: 'k1', key: { file: '/tmp/unused-key' } }] },
    policies: { full: FULL },
    users: [
      { name: 'alice', groups: ['staff'], policies: ['full'], accessKeys: [{ id: 'AKALICE1', secret: 'inline-secret-1' }] },
    ],
  }
}

describe('document edits', () => {
  it('adds a user with groups and policies, without touching the input', () => {
    const doc = baseDoc()
    const out = addUser(doc, { name: 'bob', groups: ['g1', 'g2'], policies: ['full'] })
    expect(listUsers(out).map((u) => u.name)).toEqual(['alice', 'bob'])
    expect(listUsers(out)[1]).toEqual({ name: 'bob', groups: ['g1', 'g2'], policies: ['full'], accessKeys: [] })
    expect(listUsers(doc)).toHaveLength(1)
    expect(addUser({}, { name: 'first' }).users).toEqual([{ name: 'first', groups: [], policies: [], accessKeys: [] }])
  })

  it('refuses duplicate users, unknown policies and odd names', () => {
    expect(() => addUser(baseDoc(), { name: 'alice' })).toThrow(/already exists/)
    expect(() => addUser(baseDoc(), { name: 'bob', policies: ['nope'] })).toThrow(/no policy named "nope"/)
    expect(() => addUser(baseDoc(), { name: 'bad name\n' })).toThrow(AdminError)
    expect(() => addUser(baseDoc(), { name: '' })).toThrow(AdminError)
  })

  it('lists key ids and states but never secrets or password hashes', () => {
    const doc = baseDoc()
    ;(doc.users as Record<string, unknown>[])[0]!.password = 'scrypt$32768$8$1$c2FsdA==$aGFzaA=='
    const users = listUsers(revokeKey(addKey(doc, 'alice', { id: 'AKALICE2', secret: { env: 'X' } }), 'AKALICE1').doc)
    expect(users[0]!.accessKeys).toEqual([
      { id: 'AKALICE1', disabled: true },
      { id: 'AKALICE2', disabled: false },
    ])
    const text = formatUserList(users)
    expect(text).toContain('AKALICE1  disabled')
    expect(text).toContain('AKALICE2  enabled')
    expect(text).not.toContain('inline-secret')
    expect(JSON.stringify(users)).not.toMatch(/inline-secret|scrypt/)
    expect(formatUserList([])).toBe('(no users)\n')
  })

  it('disables all keys of a user, and says when a password still works', () => {
    const doc = addKey(baseDoc(), 'alice', { id: 'AKALICE2', secret: { env: 'X' } })
    const result = disableUser(doc, 'alice')
    expect(result.disabledKeys).toEqual(['AKALICE1', 'AKALICE2'])
    expect(result.hasPassword).toBe(false)
    expect(listUsers(result.doc)[0]!.accessKeys.every((k) => k.disabled)).toBe(true)
    expect(disableUser(result.doc, 'alice').disabledKeys).toEqual([])
    ;(doc.users as Record<string, unknown>[])[0]!.password = { env: 'HASH' }
    expect(disableUser(doc, 'alice').hasPassword).toBe(true)
    expect(() => disableUser(doc, 'nobody')).toThrow(/no user named "nobody"/)
  })

  it('adds keys with unique ids to existing users only', () => {
    expect(() => addKey(baseDoc(), 'nobody', { id: 'X', secret: { env: 'X' } })).toThrow(/no user/)
    expect(() => addKey(baseDoc(), 'alice', { id: 'AKALICE1', secret: { env: 'X' } })).toThrow(/already in use/)
  })

  it('revokes a key by disabling it, or deletes it', () => {
    const disabled = revokeKey(baseDoc(), 'AKALICE1')
    expect(disabled.user).toBe('alice')
    expect(listUsers(disabled.doc)[0]!.accessKeys).toEqual([{ id: 'AKALICE1', disabled: true }])
    const deleted = revokeKey(baseDoc(), 'AKALICE1', true)
    expect(deleted.secret).toBe('inline-secret-1')
    expect(listUsers(deleted.doc)[0]!.accessKeys).toEqual([])
    expect(() => revokeKey(baseDoc(), 'NOPE')).toThrow(/no access key with id "NOPE"/)
  })

  it('finds inline secrets everywhere the config takes one', () => {
    const doc = {
      storage: { type: 's3', accessKeyId: 'a', secretAccessKey: { file: '/x' }, sessionToken: 't' },
      keyring: { keys: [{ id: 'k', key: 'base64' }, { id: 'j', key: { env: 'K' } }] },
      ldap: { bindPassword: 'pw' },
      sts: { tokenKey: 'key' },
      users: [{ name: 'u', password: 'hash', accessKeys: [{ id: 'a', secret: { file: '/s' } }, { id: 'b', secret: 's' }] }],
    }
    expect(inlineSecretPaths(doc)).toEqual([
      'storage.accessKeyId',
      'storage.sessionToken',
      'keyring.keys[0].key',
      'ldap.bindPassword',
      'sts.tokenKey',
      'users[0].password',
      'users[0].accessKeys[1].secret',
    ])
    expect(inlineSecretPaths({ keyring: { keys: [{ id: 'k', key: { file: '/k' } }] } })).toEqual([])
  })
})

describe('key material', () => {
  it('makes AWS-shaped ids and 40-character secrets, all different', () => {
    const ids = new Set(Array.from({ length: 200 }, newAccessKeyId))
    const secrets = new Set(Array.from({ length: 200 }, newSecretAccessKey))
    expect(ids.size).toBe(200)
    expect(secrets.size).toBe(200)
    for (const id of ids) expect(id).toMatch(/^S3VEIL[A-Z2-7]{14}$/)
    for (const s of secrets) expect(s).toMatch(/^[A-Za-z0-9]{40}$/)
  })

  it('draws again for bytes that would bias the alphabet', () => {
    // 62 symbols: 248..255 would favour the first eight; they must be skipped, not folded in.
    const feed = [Uint8Array.of(255, 250, 248, 0), Uint8Array.of(61, 62, 1, 249)]
    const out = randomString('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 4, () => feed.shift()!)
    expect(out).toBe('0Z01')
  })
})

async function tempConfig(doc: Record<string, unknown>, mode = 0o600): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 's3veil-admin-'))
  const file = join(dir, 'gateway.json')
  await writeFile(file, JSON.stringify(doc, null, 2), { mode })
  await chmod(file, mode)
  return file
}

describe('the config file', () => {
  it('refuses a group/world-accessible file with inline secrets, and accepts it without them', async () => {
    const loose = await tempConfig(baseDoc(), 0o644)
    await expect(loadConfigFile(loose)).rejects.toThrow(
      /holds secrets inline \(users\[0\]\.accessKeys\[0\]\.secret\).*mode 0644.*chmod 600/
    )
    const groupWritable = await tempConfig(baseDoc(), 0o620)
    await expect(loadConfigFile(groupWritable)).rejects.toThrow(/readable or writable by group or others/)
    expect((await loadConfigFile(await tempConfig(baseDoc(), 0o600))).mode).toBe(0o600)
    const clean = baseDoc()
    clean.users = []
    expect((await loadConfigFile(await tempConfig(clean, 0o644))).mode).toBe(0o644)
  })

  it('rejects missing files and non-JSON', async () => {
    await expect(loadConfigFile('/nonexistent/s3veil.json')).rejects.toThrow(/no such file/)
    const file = await tempConfig({})
    await writeFile(file, '{ nope')
    await expect(loadConfigFile(file)).rejects.toThrow(/not valid JSON/)
  })

  it('writes atomically, keeping the mode, and leaves the file untouched when validation fails', async () => {
    const file = await tempConfig(baseDoc(), 0o600)
    const before = await readFile(file, 'utf8')
    const loaded = await loadConfigFile(file)
    const broken = { ...loaded.doc, keyring: { keys: [] } }
    await expect(saveConfigFile(loaded, broken)).rejects.toThrow(
      /would not be valid, nothing was changed: config: keyring.keys/
    )
    expect(await readFile(file, 'utf8')).toBe(before)
    await saveConfigFile(loaded, addUser(loaded.doc, { name: 'bob' }))
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(listUsers(JSON.parse(await readFile(file, 'utf8'))).map((u) => u.name)).toEqual(['alice', 'bob'])
    // No temp or lock files left behind.
    expect(await readdir(join(file, '..'))).toEqual(['gateway.json'])
  })

  it('stores a new key secret in its own 0600 file, never in the config', async () => {
    const file = await tempConfig(baseDoc(), 0o600)
    const key = await editConfigFile(file, (loaded) => createKeyInFile(loaded, 'alice'))
    const dir = join(file, '..', 'secrets')
    expect(key.secretFile).toBe(join(dir, key.id))
    expect((await readFile(key.secretFile, 'utf8')).trim()).toBe(key.secret)
    expect((await stat(key.secretFile)).mode & 0o777).toBe(0o600)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain(key.secret)
    expect(JSON.parse(text).users[0].accessKeys[1]).toEqual({ id: key.id, secret: { file: key.secretFile } })
    await expect(editConfigFile(file, (loaded) => createKeyInFile(loaded, 'nobody'))).rejects.toThrow(/no user named/)
    expect(await readdir(dir)).toEqual([key.id])

    await editConfigFile(file, (loaded) => revokeKeyInFile(loaded, key.id, true))
    expect(await readdir(dir)).toEqual([])
    expect(await readFile(file, 'utf8')).not.toContain(key.id)
  })

  it('refuses a secrets directory others can enter', async () => {
    const file = await tempConfig(baseDoc(), 0o600)
    await mkdir(join(file, '..', 'secrets'), { mode: 0o755 })
    await chmod(join(file, '..', 'secrets'), 0o755)
    await expect(editConfigFile(file, (loaded) => createKeyInFile(loaded, 'alice'))).rejects.toThrow(/chmod 700/)
  })

  it('serializes edits with a lock file', async () => {
    const file = await tempConfig(baseDoc(), 0o600)
    await writeFile(`${file}.lock`, '')
    await expect(editConfigFile(file, async () => undefined)).rejects.toThrow(/another s3veil command/)
  })
})
