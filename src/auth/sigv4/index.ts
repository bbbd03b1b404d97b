/**
 * @module auth/sigv4
 * AWS Signature Version 4 for an S3 endpoint: `hasSigV4` tells whether a request carries it,
 * `verifyRequest` authenticates the request line and headers, and `verifyPayload` verifies the body as
 * it streams (signed SHA-256, aws-chunked signatures and trailers, checksums, Content-MD5).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
 */
export {
  DEFAULT_MAX_SKEW_MS,
  hasSigV4,
  payloadModeOf,
  verifyRequest,
  type Credential,
  type CredentialLookup,
  type CredentialScope,
  type PayloadMode,
  type SigV4Request,
  type StreamingSigning,
  type VerifiedRequest,
  type VerifyOptions,
} from './verify.js'
export { stripAwsChunked, verifyPayload, type VerifiedPayload } from './payload.js'
export { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type VerifiedChecksum } from './checksums.js'
export { SigningKeyCache, defaultSigningKeyCache } from './signing-key.js'
