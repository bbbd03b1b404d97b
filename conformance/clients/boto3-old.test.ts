/**
 * @module conformance/clients/boto3-old.test
 * The client matrix for Debian's boto3 (/usr/bin/python3 with python3-boto3 1.26: the defaults from
 * before the 2025 checksum change), at default settings.
 */
import { boto3Spec, boto3Version } from './boto3.js'
import { clientMatrix } from './matrix.js'

const PYTHON = '/usr/bin/python3'
const version = boto3Version(PYTHON)

clientMatrix(
  boto3Spec({
    name: 'boto3-old',
    python: version ? PYTHON : undefined,
    version: version ? `boto3 ${version.boto3} botocore ${version.botocore}` : 'missing',
    missing: `no boto3 for ${PYTHON}: install it (apt-get install -y python3-boto3)`,
  })
)
