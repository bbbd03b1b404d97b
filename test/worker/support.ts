/**
 * @module test/worker/support
 * Runs src/worker.ts in workerd through wrangler's `unstable_startWorker` (wrangler.toml as deployed,
 * with the config var and secrets replaced for the test) on 127.0.0.1, and gives SDK clients for it.
 * When workerd cannot start, the file FAILS under CI=true and skips loudly elsewhere.
 */
import { randomBytes } from 'node:crypto'
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { unstable_startWorker } from 'wrangler'
import { REPO_ROOT } from '../helpers/gateway.js'
import { isCi, type TestRgw } from '../helpers/rgw.js'
import { FULL_ACCESS_POLICY, REGION, sdkClient } from '../integration/support.js'

export interface RunningWorker {
  url: string
  /** Everything the Worker logged so far (console.log/error from inside workerd). */
  output(): string
  stop(): Promise<void>
}

type Bindings = Record<string, { type: 'plain_text' | 'secret_text'; value: string }>

/**
 * Starts the Worker with `config` as S3VEIL_CONFIG and `secrets` as Worker secrets. No file watching,
 * no inspector, no persistence, no metrics; the worker's logs are collected for assertions.
 */
/** `config` is the config document, or (a string) the var's text exactly as given. */
export async function startWorker(config: unknown, secrets: Record<string, string> = {}): Promise<RunningWorker> {
  const text = typeof config === 'string' ? config : JSON.stringify(config)
  const bindings: Bindings = { S3VEIL_CONFIG: { type: 'plain_text', value: text } }
  for (const [name, value] of Object.entries(secrets)) bindings[name] = { type: 'secret_text', value }
  let out = ''
  const capture = (chunk: string) => (out += chunk)
  // workerd's console output reaches us through wrangler's logger (the vitest process's stdout/stderr).
  const restore = tapOutput(capture)
  try {
    const worker = await unstable_startWorker({
      config: `${REPO_ROOT}/wrangler.toml`,
      bindings,
      sendMetrics: false,
      // No nodejs_compat (as deployed): workerd gets exactly the bundle `wrangler deploy` would ship.
      build: { nodejsCompatMode: null },
      dev: {
        remote: false,
        server: { hostname: '127.0.0.1', port: 0 },
        inspector: false,
        watch: false,
        persist: false,
        logLevel: 'log',
      },
    })
    await worker.ready
    const url = (await worker.url).origin
    return {
      url,
      output: () => out,
      stop: async () => {
        await worker.dispose()
        restore()
      },
    }
  } catch (err) {
    restore()
    throw err
  }
}

/** Copies what is logged through `console` (where wrangler forwards workerd's output) into `sink` until restored. */
function tapOutput(sink: (chunk: string) => void): () => void {
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const
  const originals = methods.map((m) => console[m])
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      sink(args.map(String).join(' ') + '\n')
      originals[i]!.apply(console, args)
    }
  })
  return () => methods.forEach((m, i) => (console[m] = originals[i]!))
}

/**
 * For test files (top level): a started Worker, or undefined after a loud warning when workerd cannot
 * run here; under CI that throws, so the file fails instead of skipping.
 */
export async function workerForTests(config: unknown, secrets: Record<string, string>): Promise<RunningWorker | undefined> {
  try {
    return await startWorker(config, secrets)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    if (isCi()) throw new Error(`CI: the Worker did not start in workerd:\n${reason}`)
    const line = '!'.repeat(100)
    console.warn(`\n${line}\nSKIPPING the Workers tests: workerd did not start (under CI=true this fails).\n${reason}\n${line}\n`)
    return undefined
  }
}

export interface SharedSetup {
  /** Config documents for the Worker (secrets as env references) and a Node gateway (inline secrets). */
  workerConfig: Record<string, unknown>
  nodeConfig: Record<string, unknown>
  secrets: Record<string, string>
  alice: { accessKeyId: string; secretAccessKey: string }
  /** A user whose only policy allows reads under `public/` of every bucket. */
  reader: { accessKeyId: string; secretAccessKey: string }
  tokenKey: string
}

const READ_PUBLIC = {
  Statement: [
    { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::*/public/*' },
    { Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' },
  ],
}

const accessKey = () => ({
  accessKeyId: 'AKWK' + randomBytes(8).toString('hex').toUpperCase(),
  secretAccessKey: randomBytes(30).toString('base64'),
})

/**
 * One keyring, one set of users and one STS token key, written two ways: for the Worker (secrets as
 * `{ "env": NAME }`) and for a Node gateway (the same values inline), both on the same RGW.
 */
export function sharedSetup(rgw: TestRgw, extra: { basicPasswordHash?: string; ldap?: Record<string, unknown> } = {}): SharedSetup {
  const alice = accessKey()
  const reader = accessKey()
  const masterKey = randomBytes(32).toString('base64')
  const tokenKey = randomBytes(32).toString('base64')
  const secrets: Record<string, string> = {
    UPSTREAM_ACCESS_KEY_ID: rgw.accessKeyId,
    UPSTREAM_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    MASTER_KEY: masterKey,
    ALICE_SECRET: alice.secretAccessKey,
    READER_SECRET: reader.secretAccessKey,
    STS_TOKEN_KEY: tokenKey,
  }
  if (extra.basicPasswordHash) secrets.CAROL_PASSWORD = extra.basicPasswordHash
  const storage = { type: 's3', endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true }
  const common = {
    region: REGION,
    policies: { 'full-access': FULL_ACCESS_POLICY, 'read-public': READ_PUBLIC },
    // LDAP users (STS sessions issued by the Node gateway) get their groups' policies.
    groups: { scientists: { policies: ['full-access'] } },
    logLevel: 'info',
  }
  const users = (secret: (name: string, value: string) => unknown) => [
    { name: 'alice', groups: [], policies: ['full-access'], accessKeys: [{ id: alice.accessKeyId, secret: secret('ALICE_SECRET', alice.secretAccessKey) }] },
    { name: 'reader', groups: [], policies: ['read-public'], accessKeys: [{ id: reader.accessKeyId, secret: secret('READER_SECRET', reader.secretAccessKey) }] },
    ...(extra.basicPasswordHash
      ? [{ name: 'carol', groups: [], policies: ['full-access'], accessKeys: [], password: secret('CAROL_PASSWORD', extra.basicPasswordHash) }]
      : []),
  ]
  const env = (name: string) => ({ env: name })
  const workerConfig = {
    ...common,
    storage: { ...storage, accessKeyId: env('UPSTREAM_ACCESS_KEY_ID'), secretAccessKey: env('UPSTREAM_SECRET_ACCESS_KEY') },
    keyring: { current: 'k1', keys: [{ id: 'k1', key: env('MASTER_KEY') }] },
    users: users((name) => env(name)),
    sts: { tokenKey: env('STS_TOKEN_KEY') },
    ...(extra.basicPasswordHash ? { basicAuth: { enabled: true } } : {}),
  }
  const nodeConfig = {
    ...common,
    storage: { ...storage, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    keyring: { current: 'k1', keys: [{ id: 'k1', key: masterKey }] },
    users: users((_name, value) => value),
    ...(extra.ldap ? { ldap: extra.ldap, sts: { tokenKey } } : {}),
  }
  return { workerConfig, nodeConfig, secrets, alice, reader, tokenKey }
}

/** An SDK client for the Worker (same defaults as the integration suites' clients). */
export function workerClient(
  worker: RunningWorker,
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  overrides: Partial<S3ClientConfig> = {}
): S3Client {
  return sdkClient(worker.url, creds, {
    // Local workerd (wrangler dev) never answers `Expect: 100-continue`: the SDK would wait 6 s per large body.
    expectContinueHeader: false,
    ...(creds.sessionToken ? { credentials: { ...creds, sessionToken: creds.sessionToken } } : {}),
    ...overrides,
  })
}
