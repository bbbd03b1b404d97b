/**
 * @module conformance/clients/boto3-new.test
 * The client matrix for a current boto3 (the first python3 on PATH that is not Debian's: pyenv here,
 * boto3/botocore 1.43 with the 2025 default checksums), at default settings.
 */
import { boto3Spec, boto3Version } from './boto3.js'
import { clientMatrix, onPath, sameFile } from './matrix.js'

const found = onPath('python3')
  .filter((file) => !sameFile(file, '/usr/bin/python3'))
  .map((file) => ({ file, version: boto3Version(file) }))
  .find((c) => c.version !== undefined)
const [major = 0, minor = 0] = found?.version?.boto3.split('.').map(Number) ?? []
// The 2025 default checksums arrived in boto3 1.36.
const current = major > 1 || (major === 1 && minor >= 36)

clientMatrix(
  boto3Spec({
    name: 'boto3-new',
    python: current ? found?.file : undefined,
    version: found?.version ? `boto3 ${found.version.boto3} botocore ${found.version.botocore}` : 'missing',
    missing:
      `no python3 with boto3 >= 1.36 on PATH besides /usr/bin/python3 (found ${found?.version?.boto3 ?? 'none'}): ` +
      'install one (pip install boto3)',
  })
)
