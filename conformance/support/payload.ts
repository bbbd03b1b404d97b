/**
 * @module conformance/support/payload
 * PutObject in each SigV4 payload form (signed single chunk, UNSIGNED-PAYLOAD, and the three
 * aws-chunked STREAMING-* forms), with a checksum in a header or in the trailer; bodies are framed by
 * the repo's aws-chunked test encoder (written from the AWS documentation).
 */
import { awsChunked, sha256Hex } from '../../test/integration/support.js'
import { rawRequest, signRequest, type RawResponse } from './http.js'
import { CHECKSUMS, type ChecksumName } from './s3.js'

export type PayloadForm =
  | 'signed-payload'
  | 'unsigned-payload'
  | 'streaming-signed'
  | 'streaming-unsigned-trailer'
  | 'streaming-signed-trailer'

export interface PayloadFormSpec {
  /** The x-amz-content-sha256 value; undefined: the body's SHA-256. */
  sentinel?: string
  streaming: boolean
  signedChunks: boolean
  trailer: boolean
}

export const PAYLOAD_FORMS: Record<PayloadForm, PayloadFormSpec> = {
  'signed-payload': { streaming: false, signedChunks: false, trailer: false },
  'unsigned-payload': { sentinel: 'UNSIGNED-PAYLOAD', streaming: false, signedChunks: false, trailer: false },
  'streaming-signed': { sentinel: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', streaming: true, signedChunks: true, trailer: false },
  'streaming-unsigned-trailer': { sentinel: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', streaming: true, signedChunks: false, trailer: true },
  'streaming-signed-trailer': { sentinel: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', streaming: true, signedChunks: true, trailer: true },
}

export interface FormPut {
  form: PayloadForm
  key: string
  data: Buffer
  algorithm: ChecksumName
  /** The checksum value to send (default: the right one). */
  checksum?: string
  tamperChunk?: boolean
  tamperTrailer?: boolean
  /** Content-Encoding of a streaming form (default aws-chunked; null sends none). */
  contentEncoding?: string | null
  /** Send the body with Transfer-Encoding: chunked and no Content-Length. */
  transferChunked?: boolean
  /** UploadPart instead of PutObject. */
  part?: { uploadId: string; partNumber: number }
}

/** A PutObject in the given payload form, the checksum in a header or (trailer forms) in the trailer. */
export async function putInForm(bucketName: string, p: FormPut): Promise<RawResponse> {
  const spec = PAYLOAD_FORMS[p.form]
  const header = `x-amz-checksum-${p.algorithm.toLowerCase()}`
  const value = p.checksum ?? CHECKSUMS[p.algorithm](p.data)
  const headers: Record<string, string> = { 'x-amz-sdk-checksum-algorithm': p.algorithm }
  if (spec.trailer) headers['x-amz-trailer'] = header
  else headers[header] = value
  if (spec.streaming) {
    if (p.contentEncoding !== null) headers['content-encoding'] = p.contentEncoding ?? 'aws-chunked'
    headers['x-amz-decoded-content-length'] = String(p.data.length)
  }
  const payloadHash = spec.sentinel ?? sha256Hex(p.data)
  const query = p.part ? { partNumber: String(p.part.partNumber), uploadId: p.part.uploadId } : undefined
  const signed = await signRequest({ method: 'PUT', bucket: bucketName, key: p.key, query, headers, payloadHash })
  const body = spec.streaming
    ? awsChunked(p.data, {
        chunkSize: 64 * 1024,
        signer: spec.signedChunks ? signed.chunkSigner : undefined,
        trailers: spec.trailer ? [[header, value]] : undefined,
        tamperChunk: p.tamperChunk ? { index: 1 } : undefined,
        tamperTrailer: p.tamperTrailer ? true : undefined,
      })
    : p.data
  if (!p.transferChunked) return rawRequest({ ...signed, body })
  // An async source makes node:http send Transfer-Encoding: chunked without a Content-Length.
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < body.length; offset += 16 * 1024) yield body.subarray(offset, offset + 16 * 1024)
  }
  return rawRequest({ ...signed, body: pieces() })
}
