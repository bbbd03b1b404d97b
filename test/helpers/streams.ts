/** Small helpers for unit tests that drive backends with ByteSources. */
import { expect } from 'vitest'
import { S3Error } from '../../src/s3/errors.js'

/** `data` as a ByteSource in pieces of `size` bytes. */
export async function* chunks(data: Uint8Array, size = 256 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size)
}

export async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of body) parts.push(part)
  return Buffer.concat(parts)
}

/** The S3 error code a promise rejects with; fails the test if it resolves or rejects otherwise. */
export async function s3ErrorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error)
    return (err as S3Error).code
  }
  throw new Error('expected an S3Error')
}
