/**
 * @module conformance/clients/awscli-v1.test
 * The client matrix for aws-cli v1: the first `aws` on PATH that is not /usr/bin/aws (the pyenv one
 * here, 1.45 with a botocore that sends the 2025 default checksums), at default settings.
 */
import { awsCliSpec } from './awscli.js'
import { clientMatrix, onPath, probe, sameFile } from './matrix.js'

const found = onPath('aws')
  .filter((file) => !sameFile(file, '/usr/bin/aws'))
  .map((file) => ({ file, words: probe(file, ['--version'])?.split(' ') ?? [] }))
  .find((c) => c.words[0]?.startsWith('aws-cli/1.'))
const botocore = found?.words.find((w) => w.startsWith('botocore/'))

clientMatrix(
  awsCliSpec({
    name: 'awscli-v1',
    file: found?.file,
    version: found ? `${found.words[0]}${botocore ? ' ' + botocore : ''}` : 'missing',
    missing: 'no aws-cli v1 on PATH besides /usr/bin/aws: install it (pip install awscli)',
  })
)
