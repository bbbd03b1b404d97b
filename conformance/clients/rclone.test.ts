/**
 * @module conformance/clients/rclone.test
 * The client matrix for rclone (Debian's 1.60) as an S3 client, through an on-the-fly remote
 * `:s3,provider=Other,endpoint=…,region=…:` with the keys in RCLONE_S3_ACCESS_KEY_ID /
 * RCLONE_S3_SECRET_ACCESS_KEY (same options, kept off the command line), no config file, and
 * `--ca-cert` for an https target. The environment has no AWS_CA_BUNDLE (it breaks rclone 1.60).
 * Defaults otherwise: 20 MiB is below rclone's 200 MiB upload cutoff, so it is one PUT.
 */
import { join } from 'node:path'
import { baseEnv, clientMatrix, probe, runTool, type ClientContext, type ClientDriver } from './matrix.js'

const version = probe('rclone', ['version'])?.split('\n')[0]

/** Files rclone says it copied (`-v` logs `<path>: Copied (new|replaced …)` on stderr). */
function copied(stderr: string): number {
  return stderr.split('\n').filter((l) => /: Copied \(/.test(l)).length
}

function rcloneDriver(ctx: ClientContext): ClientDriver {
  const t = ctx.target
  const remote = `:s3,provider=Other,endpoint='${t.endpoint}',region='${t.region}':`
  const env = baseEnv(ctx.home, {
    RCLONE_S3_ACCESS_KEY_ID: t.accessKeyId,
    RCLONE_S3_SECRET_ACCESS_KEY: t.secretAccessKey,
    RCLONE_CONFIG: join(ctx.home, 'rclone.conf'),
  })
  const tls = t.caBundle ? ['--ca-cert', t.caBundle] : []
  const rclone = (args: string[]) =>
    runTool('rclone', [...args, ...tls], { env, cwd: ctx.home, label: `rclone ${args[0]}` })
  const at = (bucket: string, key = ''): string => `${remote}${bucket}/${key}`
  return {
    makeBucket: async (bucket) => void (await rclone(['mkdir', at(bucket)])),
    upload: async (file, bucket, key) => void (await rclone(['copyto', file, at(bucket, key)])),
    list: async (bucket) => {
      const { stdout } = await rclone(['lsjson', '-R', '--files-only', at(bucket)])
      return (JSON.parse(stdout) as { Path: string; Size: number }[]).map((e) => ({ key: e.Path, size: e.Size }))
    },
    download: async (bucket, key, file) => void (await rclone(['copyto', at(bucket, key), file])),
    syncUp: async (dir, bucket, prefix) => copied((await rclone(['sync', '-v', dir, at(bucket, prefix)])).stderr),
    syncDown: async (bucket, prefix, dir) => copied((await rclone(['sync', '-v', at(bucket, prefix), dir])).stderr),
    presign: async (_step, bucket, key) => (await rclone(['link', at(bucket, key)])).stdout.trim(),
    deleteObject: async (bucket, key) => void (await rclone(['deletefile', at(bucket, key)])),
    deleteAll: async (bucket) => void (await rclone(['delete', at(bucket)])),
    removeBucket: async (bucket) => void (await rclone(['rmdir', at(bucket)])),
  }
}

clientMatrix({
  name: 'rclone',
  version: version ?? 'missing',
  missing: version ? undefined : 'rclone not found on PATH: install it (apt-get install -y rclone)',
  driver: rcloneDriver,
})
