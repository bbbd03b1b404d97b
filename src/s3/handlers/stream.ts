/**
 * @module s3/handlers/stream
 * ByteSource → web ReadableStream for response bodies, pulling one chunk at a time (backpressure
 * reaches the upstream), releasing the source when the client goes away, and calling `onError`
 * before erroring so the runtime can abort the connection: a failed integrity check must cut the
 * response short, never let it end cleanly.
 */
import type { ByteSource } from '../../platform/types.js'

export function toReadableStream(source: ByteSource, onError?: (err: unknown) => void): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next()
          if (next.done) controller.close()
          else controller.enqueue(next.value)
        } catch (err) {
          onError?.(err)
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
