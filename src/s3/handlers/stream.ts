/**
 * @module s3/handlers/stream
 * ByteSource → web ReadableStream for response bodies, pulling one chunk at a time (backpressure
 * reaches the upstream), releasing the source when the client goes away, and calling `onError`
 * before erroring so the runtime can abort the connection: a failed integrity check must cut the
 * response short, never let it end cleanly.
 *
 * The most recent chunk is held back until the source has produced the next one or ended without
 * error. Sources may verify something after their last byte (the encrypted object's trailer is
 * checked once the final segment has been released): were the last chunk already sent, the client
 * would hold Content-Length bytes and take the aborted connection for a complete answer.
 */
import type { ByteSource } from '../../platform/types.js'

export function toReadableStream(source: ByteSource, onError?: (err: unknown) => void): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]()
  let held: Uint8Array | undefined
  // The runtime may cancel while a pull awaits the source (a 0-byte body on Node's server does):
  // the controller is closed by then, and touching it would throw.
  let cancelled = false
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const next = await iterator.next()
            if (cancelled) return
            const previous = held
            if (next.done) {
              held = undefined
              if (previous) controller.enqueue(previous)
              controller.close()
              return
            }
            held = next.value
            if (previous) {
              controller.enqueue(previous)
              return
            }
          }
        } catch (err) {
          held = undefined
          if (cancelled) return
          onError?.(err)
          controller.error(err)
        }
      },
      async cancel() {
        cancelled = true
        held = undefined
        await iterator.return?.()
      },
    },
    { highWaterMark: 0 }
  )
}
