/**
 * @module s3/errors
 * S3 error codes, their HTTP statuses and default messages, in one table.
 * Every failure a client can see is an `S3Error`; `renderS3Error` (s3/responses.ts) is the only
 * place that turns one into XML. Codes are spelled exactly as AWS spells them.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */

const ERRORS = {
  AccessDenied: [403, 'Access Denied'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found.'],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchUpload: [404, 'The specified multipart upload does not exist.'],
  NotImplemented: [501, 'A header or query you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold.'],
  RequestTimeTooSkewed: [403, "The difference between the request time and the server's time is too large."],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  SlowDown: [503, 'Please reduce your request rate.'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
} as const satisfies Record<string, readonly [number, string]>

export type S3ErrorCode = keyof typeof ERRORS

/** Extra elements S3 adds to some errors (e.g. `Resource`, `RequestTime`, `ServerTime`, `ProposedSize`). */
export type S3ErrorFields = Record<string, string | number>

export class S3Error extends Error {
  readonly code: S3ErrorCode
  readonly status: number
  readonly fields: S3ErrorFields
  /** Headers to send with the error response (e.g. `Content-Range` on 416). */
  readonly headers: Record<string, string>

  constructor(
    code: S3ErrorCode,
    message?: string,
    options: { fields?: S3ErrorFields; headers?: Record<string, string>; cause?: unknown } = {}
  ) {
    const [status, defaultMessage] = ERRORS[code]
    super(message ?? defaultMessage, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'S3Error'
    this.code = code
    this.status = status
    this.fields = options.fields ?? {}
    this.headers = options.headers ?? {}
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error
}

/** True for codes that name a known S3 error (used when mapping upstream error names). */
export function isS3ErrorCode(name: string): name is S3ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, name)
}
