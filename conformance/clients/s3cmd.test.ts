/**
 * @module conformance/clients/s3cmd.test
 * The client matrix for s3cmd (Debian's), configured only with what it needs to reach the target: a
 * fresh .s3cfg with the keys, host_base/host_bucket (path style), use_https, ca_certs_file,
 * signature_v2 = False and the region; everything else at s3cmd's defaults (15 MiB multipart chunks).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MiB, baseEnv, clientMatrix, probe, runTool } from './matrix.js'
import type { ClientContext, ClientDriver, Listed } from './matrix.js'

const version = probe('s3cmd', ['--version'])

/** `s3cmd ls --recursive` lines: date, time, size, [storage class,] s3://bucket/key. */
export function parseS3cmdLs(stdout: string, bucket: string): Listed[] {
  const out: Listed[] = []
  const prefix = `s3://${bucket}/`
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(prefix)
    const m = at < 0 ? null : /^\S+\s+\S+\s+(\d+)\s/.exec(line.slice(0, at))
    if (m) out.push({ key: line.slice(at + prefix.length), size: Number(m[1]) })
  }
  return out
}

function count(stdout: string, verb: string): number {
  return stdout.split('\n').filter((l) => l.startsWith(`${verb}: `)).length
}

async function s3cmdDriver(ctx: ClientContext): Promise<ClientDriver> {
  const t = ctx.target
  const url = new URL(t.endpoint)
  const config = join(ctx.home, '.s3cfg')
  const lines = [
    '[default]',
    `access_key = ${t.accessKeyId}`,
    `secret_key = ${t.secretAccessKey}`,
    `host_base = ${url.host}`,
    `host_bucket = ${url.host}`,
    `use_https = ${url.protocol === 'https:' ? 'True' : 'False'}`,
    ...(t.caBundle ? [`ca_certs_file = ${t.caBundle}`] : []),
    'signature_v2 = False',
    `bucket_location = ${t.region}`,
  ]
  await writeFile(config, lines.join('\n') + '\n', { mode: 0o600 })
  const env = baseEnv(ctx.home)
  const s3url = (bucket: string, key = ''): string => `s3://${bucket}/${key}`
  const s3cmd = async (args: string[]) =>
    (await runTool('s3cmd', ['-c', config, ...args], { env, cwd: ctx.home, label: `s3cmd ${args[0]}` })).stdout
  return {
    makeBucket: async (bucket) => void (await s3cmd(['mb', s3url(bucket)])),
    upload: async (file, bucket, key) => void (await s3cmd(['put', file, s3url(bucket, key)])),
    list: async (bucket) => parseS3cmdLs(await s3cmd(['ls', '--recursive', s3url(bucket)]), bucket),
    download: async (bucket, key, file) => void (await s3cmd(['get', s3url(bucket, key), file])),
    syncUp: async (dir, bucket, prefix) => count(await s3cmd(['sync', `${dir}/`, s3url(bucket, prefix)]), 'upload'),
    syncDown: async (bucket, prefix, dir) => count(await s3cmd(['sync', s3url(bucket, prefix), `${dir}/`]), 'download'),
    presign: async (_step, bucket, key) => (await s3cmd(['signurl', s3url(bucket, key), '+3600'])).trim(),
    deleteObject: async (bucket, key) => void (await s3cmd(['del', s3url(bucket, key)])),
    deleteAll: async (bucket) => void (await s3cmd(['del', '--recursive', '--force', s3url(bucket)])),
    removeBucket: async (bucket) => void (await s3cmd(['rb', s3url(bucket)])),
  }
}

clientMatrix({
  name: 's3cmd',
  version: version ?? 'missing',
  missing: version ? undefined : 's3cmd not found on PATH: install it (apt-get install -y s3cmd)',
  // s3cmd's default multipart_chunk_size_mb
  partSize: 15 * MiB,
  driver: s3cmdDriver,
})
