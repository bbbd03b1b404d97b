/**
 * @module platform/fixed-length
 * Bodies of a declared length on Workers. workerd sends a plain ReadableStream chunked, without
 * Content-Length (an upstream S3 refuses such a PUT, RGW with 411; a client downloading sees no size);
 * piped through its FixedLengthStream the body carries the length, and one that ends early or runs
 * over errors instead of ending as if complete. Elsewhere (Node, which frames bodies itself) the
 * stream is returned as it is.
 */

interface FixedLengthStreamClass {
  new (length: number): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }
}

export function withFixedLength(stream: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array> {
  const FixedLength = (globalThis as { FixedLengthStream?: FixedLengthStreamClass }).FixedLengthStream
  if (!FixedLength) return stream
  const fixed = new FixedLength(length)
  // A failure of the source aborts the fixed stream, so the runtime cuts the connection.
  void stream.pipeTo(fixed.writable).catch(() => {})
  return fixed.readable
}
