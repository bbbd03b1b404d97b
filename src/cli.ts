/**
 * @module cli
 * `s3veil [serve] [options]`: the command-line front of the Node entry.
 */
import { parseArgs } from 'node:util'
import { hashPassword } from './auth/password.js'
import { startGateway } from './node.js'

const HELP = `Usage: s3veil [serve] [options]
       s3veil hash-password < password-file

Runs the s3veil S3-compatible encrypting gateway. "hash-password" reads a password from standard
input (one line) and prints the hash to put in a user's "password" field for HTTP Basic.

Without --config it runs on its embedded default: objects on local disk under the data
directory, a development master key and a development user generated on first start, and an
AWS shared-credentials file (profile "s3veil") written to <data-dir>/aws-credentials.

Options (each also settable through the environment variable shown):
  --host HOST        address to listen on            S3VEIL_HOST      (default 127.0.0.1)
  --port PORT        port to listen on (0 = any)     S3VEIL_PORT      (default 7070)
  --data-dir DIR     data directory for the default  S3VEIL_DATA_DIR  (default ./s3veil-data)
  --config FILE      JSON configuration file          S3VEIL_CONFIG
  --log-level LEVEL  fatal|error|warn|info|debug     S3VEIL_LOG_LEVEL (default info)
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
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
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
    process.stdout.write((await hashPassword(password)) + '\n')
    return
  }
  if (command !== 'serve') throw new Error(`unknown command "${command}" (try --help)`)
  const env = process.env
  const portText = values.port ?? env.S3VEIL_PORT
  const port = portText === undefined ? undefined : Number(portText)
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error(`invalid port "${portText}" (from --port or S3VEIL_PORT)`)
  const gateway = await startGateway({
    host: values.host ?? env.S3VEIL_HOST,
    port,
    dataDir: values['data-dir'] ?? env.S3VEIL_DATA_DIR,
    configFile: values.config ?? env.S3VEIL_CONFIG,
    logLevel: values['log-level'] ?? env.S3VEIL_LOG_LEVEL,
  })
  const stop = (signal: string) => {
    process.stderr.write(`s3veil: ${signal}: no new connections; waiting up to 10 s for requests in flight\n`)
    gateway.close().then(() => process.exit(0))
    // Uploads still running then are cut off; their temp files are removed on the next start.
    setTimeout(() => process.exit(0), 10_000).unref()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`s3veil: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
