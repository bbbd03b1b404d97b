/**
 * @module backend/s3-upstream-fetch
 * The upstream transport for runtimes with only `fetch` (Cloudflare Workers): the SDK's
 * FetchHttpHandler, request bodies as ReadableStreams of a declared length, response bodies as the
 * ReadableStreams fetch returns. TLS trust and connection pooling are the runtime's.
 */
import { FetchHttpHandler } from '@smithy/fetch-http-handler'
import { withFixedLength } from '../platform/fixed-length.js'
import type { ByteSource } from '../platform/types.js'
import type { UpstreamTransport } from './s3-upstream.js'

/** Pulls `source` one chunk at a time; a failure is reported to `onError` and errors the stream. */
function streamOf(source: ByteSource, onError: (err: unknown) => void): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next()
          if (next.done) controller.close()
          else controller.enqueue(next.value)
        } catch (err) {
          onError(err)
          controller.error(err)
        }
      },
      async cancel() {
        await iterator.return?.()
      },
    },
    { highWaterMark: 0 }
  )
}

/** A web ReadableStream as bytes; `return()` cancels it, which drops the upstream connection. */
function readerSource(stream: ReadableStream<Uint8Array>): { source: ByteSource; destroy(): void } {
  const reader = stream.getReader()
  const destroy = () => void reader.cancel().catch(() => {})
  return {
    source: {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const { done, value } = await reader.read()
          return done ? { done: true, value: undefined } : { done: false, value }
        },
        return: async () => {
          destroy()
          return { done: true, value: undefined }
        },
      }),
    },
    destroy,
  }
}

/**
 * fetch, with its rejections (a TypeError: refused, reset, DNS, TLS…) marked as network failures so
 * the backend answers 503 as for a Node socket error. Aborts stay aborts.
 */
async function upstreamFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(input, init)
  } catch (err) {
    if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) throw err
    const reason = err instanceof Error ? `: ${err.message}` : ''
    throw Object.assign(new Error(`fetch to the upstream failed${reason}`, { cause: err }), { code: 'ERR_FETCH_FAILED' })
  }
}

export function fetchTransport(options: { requestTimeoutMs?: number } = {}): UpstreamTransport {
  return {
    requestHandler: new FetchHttpHandler({ requestTimeout: options.requestTimeoutMs ?? 120_000, customFetch: upstreamFetch }),
    requestBody(source, length, onError) {
      // S3 needs the length of a PUT's body (RGW answers a chunked one with 411).
      const body = withFixedLength(streamOf(source, onError), length)
      return { body, destroy: () => void body.cancel().catch(() => {}) }
    },
    responseBody(body) {
      return body instanceof ReadableStream ? readerSource(body as ReadableStream<Uint8Array>) : undefined
    },
  }
}
