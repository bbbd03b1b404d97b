/**
 * @module cli
 * `s3veil [serve] [options]`: the command-line front of the Node entry.
 */
import { parseArgs } from 'node:util'
import {
  AdminError,
  addUser,
  createKeyInFile,
  credentialsText,
  disableUser,
  editConfigFile,
  formatUserList,
  listUsers,
  loadConfigFile,
  revokeKeyInFile,
  saveConfigFile,
} from './admin.js'
import { hashPassword } from './auth/password.js'
import { reportCrashes, startGateway } from './node.js'
import { nodePlatform } from './platform/node.js'

const HELP = `Usage: s3veil [serve] [options]
       s3veil hash-password < password-file
       s3veil user add NAME [--group G]... [--policy P]... --config FILE
       s3veil user list [--json] --config FILE
       s3veil user disable NAME --config FILE
       s3veil key create USER --config FILE
       s3veil key revoke KEYID [--delete] --config FILE

Runs the s3veil S3-compatible encrypting gateway. "hash-password" reads a password from standard
input (one line) and prints the hash to put in a user's "password" field for HTTP Basic.

"user" and "key" edit the users of a config file (--config or S3VEIL_CONFIG): "user add" adds a user
with groups and policies (defined in the file's "policies"); "user list" shows users, groups,
policies and key ids (never secrets); "user disable" disables all of a user's access keys. "key
create" generates an access key for a user and prints it once; its secret is stored in
<config dir>/secrets/<key id> (mode 0600), referenced from the config. "key revoke" disables a key,
with --delete removes it. Edits are validated before the file is replaced; a running gateway picks
them up when restarted.

Without --config it runs on its embedded default: objects on local disk under the data
directory, a development master key and a development user generated on first start, and an
AWS shared-credentials file (profile "s3veil") written to <data-dir>/aws-credentials.

Options (each also settable through the environment variable shown):
  --host HOST        address to listen on            S3VEIL_HOST      (default 127.0.0.1)
  --port PORT        port to listen on (0 = any)     S3VEIL_PORT      (default 7070)
  --tls-port PORT    HTTPS port (0 = any)            S3VEIL_TLS_PORT  (default: the config's tls.port)
  --data-dir DIR     data directory for the default  S3VEIL_DATA_DIR  (default ./s3veil-data)
  --config FILE      JSON configuration file          S3VEIL_CONFIG
  --log-level LEVEL  fatal|error|warn|info|debug|trace|silent
                                                     S3VEIL_LOG_LEVEL (default: the config's logLevel, else info)
  --shutdown-timeout SECONDS
                     on SIGTERM/SIGINT, how long requests in flight may take before they are cut
                                                     S3VEIL_SHUTDOWN_TIMEOUT (default 25)
  -h, --help         show this help

The configuration file format is described in README.md.
`

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'tls-port': { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      group: { type: 'string', multiple: true },
      policy: { type: 'string', multiple: true },
      delete: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  })
  const command = positionals[0] ?? 'serve'
  if (values.help || command === 'help') {
    process.stdout.write(HELP)
    return
  }
  if (command === 'hash-password') {
    // From stdin, not an argument: arguments end up in shell history and process listings.
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
    if (password === '') throw new Error('hash-password: no password on standard input')
    process.stdout.write((await hashPassword(password, undefined, nodePlatform)) + '\n')
    return
  }
  if (command === 'user' || command === 'key') {
    await admin(command, positionals.slice(1), values)
    return
  }
  if (command !== 'serve') throw new Error(`unknown command "${command}" (try --help)`)
  reportCrashes()
  const env = process.env
  const port = portOption(values.port ?? env.S3VEIL_PORT, '--port or S3VEIL_PORT')
  const tlsPort = portOption(values['tls-port'] ?? env.S3VEIL_TLS_PORT, '--tls-port or S3VEIL_TLS_PORT')
  const gateway = await startGateway({
    host: values.host ?? env.S3VEIL_HOST,
    port,
    tlsPort,
    dataDir: values['data-dir'] ?? env.S3VEIL_DATA_DIR,
    configFile: values.config ?? env.S3VEIL_CONFIG,
    logLevel: values['log-level'] ?? env.S3VEIL_LOG_LEVEL,
    shutdownTimeoutSeconds: secondsOption(values['shutdown-timeout'] ?? env.S3VEIL_SHUTDOWN_TIMEOUT),
  })
  let stopping = false
  const stop = (signal: string) => {
    // A second signal while draining means "now".
    if (stopping) process.exit(1)
    stopping = true
    // Uploads cut at the timeout store nothing; a disk upload's temp file is removed on the next start.
    gateway.shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1)
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

function secondsOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const seconds = Number(text)
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new Error(`invalid shutdown timeout "${text}" (from --shutdown-timeout or S3VEIL_SHUTDOWN_TIMEOUT): whole seconds, at least 1`)
  }
  return seconds
}

function portOption(text: string | undefined, from: string): number | undefined {
  if (text === undefined) return undefined
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port "${text}" (from ${from})`)
  return port
}

interface AdminOptions {
  config?: string
  group?: string[]
  policy?: string[]
  delete?: boolean
  json?: boolean
}

/** `user …` and `key …`: one edit of the config file each, under its lock. */
async function admin(noun: 'user' | 'key', args: string[], values: AdminOptions): Promise<void> {
  const [verb, target, ...extra] = args
  const usage = `usage: s3veil ${noun} ${noun === 'user' ? 'add|list|disable' : 'create|revoke'} … --config FILE (try --help)`
  const file = values.config ?? process.env.S3VEIL_CONFIG
  if (!file) throw new AdminError(`${noun} ${verb ?? ''}: needs --config FILE (or S3VEIL_CONFIG)`)
  if (extra.length > 0) throw new AdminError(`unexpected arguments: ${extra.join(' ')}`)
  const needTarget = (what: string): string => {
    if (target === undefined) throw new AdminError(`${noun} ${verb}: missing ${what}`)
    return target
  }
  const say = (text: string) => process.stderr.write(`s3veil: ${text}\n`)
  switch (`${noun} ${verb}`) {
    case 'user list': {
      if (target !== undefined) throw new AdminError(`unexpected argument: ${target}`)
      const users = listUsers((await loadConfigFile(file)).doc)
      process.stdout.write(values.json ? JSON.stringify(users, null, 2) + '\n' : formatUserList(users))
      return
    }
    case 'user add': {
      const name = needTarget('NAME')
      await editConfigFile(file, (loaded) =>
        saveConfigFile(loaded, addUser(loaded.doc, { name, groups: values.group, policies: values.policy }))
      )
      say(`added user "${name}"; give them a key with: s3veil key create ${name} --config ${file}`)
      return
    }
    case 'user disable': {
      const name = needTarget('NAME')
      const result = await editConfigFile(file, async (loaded) => {
        const edit = disableUser(loaded.doc, name)
        await saveConfigFile(loaded, edit.doc)
        return edit
      })
      const keys = result.disabledKeys.join(', ') || 'none enabled'
      say(`user "${name}": ${result.disabledKeys.length} access key(s) disabled (${keys})`)
      // Keys are all this command turns off; a password would still let them in over HTTP Basic.
      if (result.hasPassword) {
        say(`warning: user "${name}" has a password: HTTP Basic still works until it is removed from the config`)
      }
      return
    }
    case 'key create': {
      const user = needTarget('USER')
      const key = await editConfigFile(file, (loaded) => createKeyInFile(loaded, user))
      // The only place the secret is ever shown; stdout so it can be redirected into a file.
      process.stdout.write(credentialsText(user, key.id, key.secret, key.secretFile))
      return
    }
    case 'key revoke': {
      const keyId = needTarget('KEYID')
      const remove = values.delete === true
      const { user } = await editConfigFile(file, (loaded) => revokeKeyInFile(loaded, keyId, remove))
      say(`access key ${keyId} of user "${user}" ${remove ? 'deleted' : 'disabled'}; restart the gateway to apply it`)
      return
    }
    default:
      throw new AdminError(usage)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`s3veil: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
