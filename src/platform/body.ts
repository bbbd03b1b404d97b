// Reading a small request body (XML documents, forms) whole, with a cap so a huge one is refused early.
import { concatBytes } from '../crypto/bytes.js'
import type { ByteSource } from './types.js'

/** The body as UTF-8 text; throws `tooLarge()` as soon as more than `limit` bytes have arrived. */
export async function readBoundedText(body: ByteSource, limit: number, tooLarge: () => Error): Promise<string> {
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of body) {
    total += chunk.byteLength
    if (total > limit) throw tooLarge()
    chunks.push(chunk)
  }
  return new TextDecoder().decode(concatBytes(...chunks))
}
