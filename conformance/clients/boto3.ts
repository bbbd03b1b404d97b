/**
 * @module conformance/clients/boto3
 * The boto3 driver of the client matrix: each step runs conformance/clients/boto3_scenario.py with a
 * given Python (the pyenv python3 with a current boto3, or Debian's /usr/bin/python3 with
 * python3-boto3 1.26), at boto3's default settings. The connection goes in the environment, not argv.
 */
import { resolve } from 'node:path'
import { MiB, baseEnv, probe, runTool } from './matrix.js'
import type { ClientContext, ClientDriver, ClientSpec, Listed } from './matrix.js'

const SCRIPT = resolve(import.meta.dirname, 'boto3_scenario.py')

/** `boto3 <version> botocore <version>` of a Python, or undefined when it has no boto3. */
export function boto3Version(python: string): { boto3: string; botocore: string } | undefined {
  const out = probe(python, ['-c', 'import boto3, botocore; print(boto3.__version__, botocore.__version__)'])
  const [boto3, botocore] = out?.split(' ') ?? []
  return boto3 && botocore ? { boto3, botocore } : undefined
}

export interface Boto3Options {
  name: string
  /** The interpreter; undefined when this machine has none (every case then fails with `missing`). */
  python: string | undefined
  version: string
  missing: string
}

export function boto3Spec(options: Boto3Options): ClientSpec {
  return {
    name: options.name,
    version: options.version,
    missing: options.python === undefined ? options.missing : undefined,
    // s3transfer's defaults: 8 MiB threshold and 8 MiB parts
    partSize: 8 * MiB,
    // boto3 presigns with SigV2 for this kind of endpoint unless told otherwise
    presignVariants: [{ step: 'presign-get-s3v4', title: "presign with Config(signature_version='s3v4'); curl fetches it" }],
    driver: (ctx) => boto3Driver(options.python!, ctx),
  }
}

function boto3Driver(python: string, ctx: ClientContext): ClientDriver {
  const t = ctx.target
  const connection = {
    endpoint: t.endpoint,
    accessKeyId: t.accessKeyId,
    secretAccessKey: t.secretAccessKey,
    region: t.region,
    caBundle: t.caBundle ?? null,
  }
  async function step(name: string, args: Record<string, unknown>): Promise<unknown> {
    // No AWS_* variables, no ~/.aws: the client sees only what the script passes.
    const env = baseEnv(ctx.home, { BOTO3_SCENARIO: JSON.stringify({ ...connection, ...args, step: name }) })
    const { stdout } = await runTool(python, [SCRIPT], { env, cwd: ctx.home, label: `boto3 ${name}` })
    return JSON.parse(stdout.trim().split('\n').at(-1)!)
  }
  const count = (out: unknown) => (out as { transferred: number }).transferred
  return {
    makeBucket: async (bucket) => void (await step('mb', { bucket })),
    upload: async (file, bucket, key, big) => void (await step('put', { bucket, key, file, big })),
    list: async (bucket) => (await step('list', { bucket })) as Listed[],
    download: async (bucket, key, file, big) => void (await step('get', { bucket, key, file, big })),
    syncUp: async (dir, bucket, prefix) => count(await step('sync-up', { bucket, dir, prefix })),
    syncDown: async (bucket, prefix, dir) => count(await step('sync-down', { bucket, dir, prefix })),
    presign: async (name, bucket, key) => ((await step(name, { bucket, key })) as { url: string }).url,
    deleteObject: async (bucket, key) => void (await step('rm', { bucket, key })),
    deleteAll: async (bucket) => void (await step('rm-all', { bucket })),
    removeBucket: async (bucket) => void (await step('rb', { bucket })),
  }
}
