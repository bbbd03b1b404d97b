/**
 * Malformed config files are refused at startup with the place to look (issue 4, "what bad input
 * gets"): a JSON syntax error as `file:line:column`, a wrong value as `file:line` plus its JSON path.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/gateway.js'

const exec = promisify(execFile)

async function serveWith(text: string): Promise<{ file: string; code: number; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 's3veil-config-'))
  const file = join(dir, 'config.json')
  await writeFile(file, text, { mode: 0o600 })
  const args = [join(REPO_ROOT, 'bin/s3veil.js'), 'serve', '--config', file, '--port', '0', '--data-dir', join(dir, 'data')]
  try {
    await exec(process.execPath, args, { cwd: REPO_ROOT, timeout: 30_000 })
    return { file, code: 0, stderr: '' }
  } catch (err) {
    const e = err as { code?: number; stderr?: string }
    return { file, code: e.code ?? -1, stderr: e.stderr ?? '' }
  }
}

const KEYRING = '"keyring": { "keys": [ { "id": "k1", "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" } ] }'

describe('a malformed config file is refused at startup', () => {
  it('a policy with Effect "Alow": exit 1, file:line and the JSON path', async () => {
    const text = `{\n  ${KEYRING},\n  "policies": {\n    "rw": { "Statement": [\n      { "Effect": "Alow", "Action": "s3:*", "Resource": "*" }\n    ] }\n  }\n}\n`
    const { file, code, stderr } = await serveWith(text)
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:5: config: policies.rw.Statement[0].Effect: must be "Allow" or "Deny"`)
  })

  it('an unknown policy name on a user: exit 1, file:line', async () => {
    const text = `{\n  ${KEYRING},\n  "users": [ { "name": "a", "accessKeys": [],\n    "policies": ["nope"] } ]\n}\n`
    const { file, code, stderr } = await serveWith(text)
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:4: config: users[0].policies[0]: no policy named "nope"`)
  })

  it('a trailing comma: exit 1, file:line:column', async () => {
    const text = `{\n  ${KEYRING},\n  "logLevel": "info",\n}\n`
    const { file, code, stderr } = await serveWith(text)
    expect(code).toBe(1)
    expect(stderr).toContain(`${file}:4:1: config: not valid JSON`)
  })
})
