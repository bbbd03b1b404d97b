/**
 * @module conformance/clients/awscli
 * The aws-cli driver of the client matrix, for both majors (v2: Debian's /usr/bin/aws; v1: the pyenv
 * `aws` on PATH with a current botocore). Default settings: credentials and region from the
 * environment, nothing else configured; `--ca-bundle` for an https target with a private CA.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { awsClientEnv } from '../../test/integration/support.js'
import { MiB, runTool, type ClientContext, type ClientDriver, type ClientSpec, type Listed } from './matrix.js'

/** `aws s3 ls --recursive` lines: date, time, size, key (the key may hold spaces). */
export function parseAwsLs(stdout: string): Listed[] {
  const out: Listed[] = []
  for (const line of stdout.split('\n')) {
    const m = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+) (.*)$/.exec(line)
    if (m) out.push({ key: m[2]!, size: Number(m[1]) })
  }
  return out
}

/** How many files `aws s3 sync` says it moved (`upload:` / `download:` lines; progress uses \r). */
export function countAwsTransfers(stdout: string): number {
  return stdout.split(/[\r\n]+/).filter((l) => /^(upload|download|copy): /.test(l.trim())).length
}

const S3V4_STEP = 'presign-get-s3v4'

export interface AwsCliOptions {
  name: string
  /** The executable; undefined when this machine has none (every case then fails with `missing`). */
  file: string | undefined
  version: string
  missing: string
}

export function awsCliSpec(options: AwsCliOptions): ClientSpec {
  const v1 = options.name === 'awscli-v1'
  return {
    name: options.name,
    version: options.version,
    missing: options.file === undefined ? options.missing : undefined,
    // s3transfer's defaults: 8 MiB threshold and 8 MiB parts
    partSize: 8 * MiB,
    // v1 presigns with SigV2 unless the profile says otherwise (README: "Presigned URLs")
    presignVariants: v1 ? [{ step: S3V4_STEP, title: 'presign with `s3.signature_version = s3v4` in the profile; curl fetches it' }] : [],
    driver: (ctx) => awsCliDriver(options.file!, ctx),
  }
}

async function awsCliDriver(file: string, ctx: ClientContext): Promise<ClientDriver> {
  const t = ctx.target
  const env = awsClientEnv(t, ctx.home, { AWS_DEFAULT_REGION: t.region })
  const s3v4Config = join(ctx.home, 's3v4-config')
  await writeFile(s3v4Config, '[default]\ns3 =\n  signature_version = s3v4\n')
  const common = ['--endpoint-url', t.endpoint, ...(t.caBundle ? ['--ca-bundle', t.caBundle] : [])]
  async function aws(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const label = `aws ${args.slice(0, 2).join(' ')}`
    return (await runTool(file, [...common, ...args], { env: { ...env, ...extraEnv }, cwd: ctx.home, label })).stdout
  }
  const s3url = (bucket: string, key = '') => `s3://${bucket}/${key}`
  return {
    makeBucket: async (bucket) => void (await aws(['s3', 'mb', s3url(bucket)])),
    upload: async (local, bucket, key) => void (await aws(['s3', 'cp', local, s3url(bucket, key)])),
    list: async (bucket) => parseAwsLs(await aws(['s3', 'ls', '--recursive', s3url(bucket)])),
    download: async (bucket, key, local) => void (await aws(['s3', 'cp', s3url(bucket, key), local])),
    syncUp: async (dir, bucket, prefix) => countAwsTransfers(await aws(['s3', 'sync', dir, s3url(bucket, prefix)])),
    syncDown: async (bucket, prefix, dir) => countAwsTransfers(await aws(['s3', 'sync', s3url(bucket, prefix), dir])),
    presign: (step, bucket, key) =>
      aws(['s3', 'presign', s3url(bucket, key)], step === S3V4_STEP ? { AWS_CONFIG_FILE: s3v4Config } : {}),
    deleteObject: async (bucket, key) => void (await aws(['s3', 'rm', s3url(bucket, key)])),
    deleteAll: async (bucket) => void (await aws(['s3', 'rm', '--recursive', s3url(bucket)])),
    removeBucket: async (bucket) => void (await aws(['s3', 'rb', s3url(bucket)])),
  }
}
