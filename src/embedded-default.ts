/**
 * @module embedded-default
 * What `s3veil serve` runs without a config file: disk storage in the data directory, a development
 * master key and user generated on first start, and an AWS shared-credentials file for aws-cli, so
 * that a first try needs no cloud account and no setup. Node only.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type pino from 'pino'
import { newAccessKeyId, newSecretAccessKey } from './admin.js'
import { FULL_ACCESS_DOCUMENT } from './auth/policy.js'
import { nodePlatform } from './platform/node.js'

async function fileExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false
  )
}

/**
 * The embedded default: disk storage in `dataDir`, a development master key and user generated on
 * first start (files mode 0600) and an AWS shared-credentials file for aws-cli's `--profile s3veil`.
 */
export async function embeddedDefault(dataDir: string, log: pino.Logger): Promise<unknown> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const keyFile = join(dataDir, 'dev-master.key')
  const userFile = join(dataDir, 'dev-user.json')
  const credentialsFile = join(dataDir, 'aws-credentials')
  if (!(await fileExists(keyFile))) {
    await writeFile(keyFile, Buffer.from(nodePlatform.randomBytes(32)).toString('base64') + '\n', { mode: 0o600 })
  }
  await chmod(keyFile, 0o600)
  if (!(await fileExists(userFile))) {
    const user = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() }
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

/** How to try it, on stderr at start: the secret stays in the credentials file. */
export function printDevBanner(url: string, creds: { accessKeyId: string; credentialsFile: string }): void {
  process.stderr.write(
    [
      '',
      's3veil is running on its embedded default (local disk, development keys).',
      `  endpoint:          ${url}`,
      `  access key id:     ${creds.accessKeyId}`,
      `  secret access key: in the credentials file (never printed)`,
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
