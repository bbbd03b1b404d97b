/**
 * @module conformance/clients/awscli-v2.test
 * The client matrix for aws-cli v2: Debian's /usr/bin/aws (called by full path: the `aws` first on
 * PATH here is v1), at default settings.
 */
import { awsCliSpec } from './awscli.js'
import { clientMatrix, probe } from './matrix.js'

const FILE = '/usr/bin/aws'
const version = probe(FILE, ['--version'])?.split(' ')[0]

clientMatrix(
  awsCliSpec({
    name: 'awscli-v2',
    file: version?.startsWith('aws-cli/2.') ? FILE : undefined,
    version: version ?? 'missing',
    missing: `aws-cli v2 not found at ${FILE} (${version ?? 'absent'}): install it (apt-get install -y awscli)`,
  })
)
