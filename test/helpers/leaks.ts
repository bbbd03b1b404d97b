/**
 * @module test/helpers/leaks
 * The secrets-never-printed check. Every gateway started by test/helpers/gateway.ts records, in the
 * run's directory (S3VEIL_TEST_RUN_DIR, made by test/global-setup.ts), the secrets it was given and
 * everything it printed; at the end of the run `findLeaks` looks for each secret (and the base64,
 * base64url and hex forms of binary keys) in every gateway's output.
 */
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export const RUN_DIR_ENV = 'S3VEIL_TEST_RUN_DIR'

/** Shorter values (the LDAP fixture's bind password "readonly", also part of its bind DN) would only find noise. */
const MIN_SECRET_LENGTH = 10

export interface SecretEntry {
  /** Where it came from, e.g. `keyring.keys[0].key`. */
  what: string
  value: string
}

/** The strings a secret could show up as: itself and, for base64 key material, its other encodings. */
export function secretForms(value: string): string[] {
  const forms = new Set([value])
  if (/^[A-Za-z0-9+/]{40,}={0,2}$/.test(value)) {
    const raw = Buffer.from(value, 'base64')
    if (raw.byteLength >= 16) {
      forms.add(raw.toString('hex'))
      forms.add(raw.toString('hex').toUpperCase())
      forms.add(raw.toString('base64url'))
    }
  }
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH)
}

type SecretRef = string | { file: string } | { env: string }

async function resolveRef(ref: unknown, env: Record<string, string | undefined>): Promise<string | undefined> {
  if (typeof ref === 'string') return ref
  if (typeof ref !== 'object' || ref === null) return undefined
  const r = ref as SecretRef & object
  if ('env' in r) return env[r.env]
  if ('file' in r) return (await readFile(r.file, 'utf8').catch(() => undefined))?.trim()
  return undefined
}

/** Every secret setting of a config document (README "Operations" lists them), resolved as the gateway would. */
export async function configSecrets(config: Record<string, unknown>, env: Record<string, string | undefined>): Promise<SecretEntry[]> {
  const refs: { what: string; ref: unknown }[] = []
  const o = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {})
  const storage = o(config.storage)
  refs.push({ what: 'storage.secretAccessKey', ref: storage.secretAccessKey }, { what: 'storage.sessionToken', ref: storage.sessionToken })
  const keys = o(config.keyring).keys
  if (Array.isArray(keys)) keys.forEach((k, i) => refs.push({ what: `keyring.keys[${i}].key`, ref: o(k).key }))
  const users = config.users
  if (Array.isArray(users)) {
    users.forEach((u, i) => {
      refs.push({ what: `users[${i}].password`, ref: o(u).password })
      const accessKeys = o(u).accessKeys
      if (Array.isArray(accessKeys)) accessKeys.forEach((k, j) => refs.push({ what: `users[${i}].accessKeys[${j}].secret`, ref: o(k).secret }))
    })
  }
  refs.push({ what: 'ldap.bindPassword', ref: o(config.ldap).bindPassword })
  refs.push({ what: 'sts.tokenKey', ref: o(config.sts).tokenKey })
  refs.push({ what: 'ops.metricsToken', ref: o(config.ops).metricsToken })
  const out: SecretEntry[] = []
  for (const { what, ref } of refs) {
    const value = await resolveRef(ref, env)
    if (value) out.push({ what, value })
  }
  return out
}

/** Where one gateway's record goes; undefined outside a vitest run (e.g. the conformance runner). */
export function gatewayRecord(label: string): { log(text: string): void; secrets(entries: SecretEntry[]): void } | undefined {
  const dir = process.env[RUN_DIR_ENV]
  if (!dir) return undefined
  const stem = join(dir, `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`)
  writeFileSync(`${stem}.log`, '')
  return {
    log: (text) => appendFileSync(`${stem}.log`, text),
    secrets: (entries) => writeFileSync(`${stem}.secrets.json`, JSON.stringify({ label, entries })),
  }
}

export interface Leak {
  log: string
  what: string
  /** Only the first few characters: the report itself must not print the secret. */
  prefix: string
}

/** Every secret of the run found in any gateway's output. */
export function findLeaks(dir: string): { gateways: number; secrets: number; leaks: Leak[] } {
  const files = readdirSync(dir)
  const secrets: { what: string; form: string }[] = []
  for (const file of files.filter((f) => f.endsWith('.secrets.json'))) {
    const { label, entries } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { label: string; entries: SecretEntry[] }
    for (const entry of entries) {
      for (const form of secretForms(entry.value)) secrets.push({ what: `${label}: ${entry.what}`, form })
    }
  }
  const logs = files.filter((f) => f.endsWith('.log'))
  const leaks: Leak[] = []
  for (const log of logs) {
    const text = readFileSync(join(dir, log), 'utf8')
    for (const { what, form } of secrets) {
      if (text.includes(form)) leaks.push({ log: join(dir, log), what, prefix: form.slice(0, 4) + '…' })
    }
  }
  return { gateways: logs.length, secrets: secrets.length, leaks }
}
