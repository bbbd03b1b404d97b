import { describe, expect, it } from 'vitest'
import {
  chunked,
  collect,
  drain,
  expectIntegrity,
  platform,
  toHex,
  trackedSource,
} from '../../test/fixtures/crypto/helpers.js'
import type { OpenedEnvelope } from './envelope.js'
import { IntegrityError, LengthMismatchError } from './errors.js'
import {
  FOOTER_SIZE,
  MIN_PART_SIZE,
  SEGMENT_SIZE,
  STORED_SEGMENT_SIZE,
  maxTrailerLength,
  partStoredLength,
  placeParts,
  plaintextSize,
  singlePartStoredRange,
  storedRangeFor,
  storedSize,
  type PartSpec,
} from './format.js'
import {
  decodeTrailer,
  decryptObject,
  decryptRange,
  decryptSinglePartRange,
  encodeTrailer,
  encryptObject,
  encryptPart,
} from './stream.js'
import { decodeFooter, encodeFooter } from './trailer.js'

const S = SEGMENT_SIZE

async function envelope(multipart = false, seed = 1): Promise<OpenedEnvelope> {
  const objectId = new Uint8Array(16).fill(seed)
  return { dek: await platform.importAesKey(new Uint8Array(32).fill(seed)), objectId, kekId: 'k1', multipart }
}

const env = await envelope()

/** Deterministic, position-dependent plaintext (so misplaced bytes show). */
function plaintext(length: number, salt = 0): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 131 + (i >>> 8) * 7 + salt) & 0xff
  return out
}

async function encrypt(plain: Uint8Array, sizes?: number[], e = env): Promise<Uint8Array> {
  return collect(encryptObject(platform, e, plain.byteLength, chunked(plain, sizes)))
}

/** Reads a whole stored object the way the gateway does: plaintext size from the stored size alone. */
async function readAsGateway(stored: Uint8Array, e = env): Promise<Uint8Array> {
  const plainSize = plaintextSize(stored.byteLength)
  if (plainSize === undefined) throw new IntegrityError('size', 'not a v1 size')
  return collect(decryptObject(platform, e, plainSize, stored.byteLength, chunked(stored, [10000])))
}

function splice(stored: Uint8Array, at: number, remove: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(stored.byteLength - remove + insert.byteLength)
  out.set(stored.subarray(0, at), 0)
  out.set(insert, at)
  out.set(stored.subarray(at + remove), at + insert.byteLength)
  return out
}

function flip(stored: Uint8Array, at: number): Uint8Array {
  const copy = stored.slice()
  copy[at]! ^= 0x40
  return copy
}

describe('round trips', () => {
  const sizes = [0, 1, 2, S - 1, S, S + 1, 2 * S, 3 * S + 7, 17 * S + 1, MIN_PART_SIZE + 123]
  for (const size of sizes) {
    it(`${size} bytes`, async () => {
      const plain = plaintext(size)
      const chunkings = size <= 2 * S ? [undefined, [1], [7, 4096, 100000]] : [undefined, [7, 4096, 100000], [S], [S + 1]]
      for (const chunking of chunkings) {
        const stored = await encrypt(plain, chunking)
        expect(stored.byteLength).toBe(storedSize(size))
        expect(plaintextSize(stored.byteLength)).toBe(size)
        for (const readChunks of [[stored.byteLength || 1], [1000], [STORED_SEGMENT_SIZE], [3, 70000]]) {
          const back = await collect(decryptObject(platform, env, size, stored.byteLength, chunked(stored, readChunks)))
          expect(back.byteLength).toBe(size)
          expect(toHex(back.subarray(0, 64))).toBe(toHex(plain.subarray(0, 64)))
          expect(Buffer.compare(back, plain)).toBe(0)
        }
      }
    })
  }

  it('an object is laid out as segments, manifest, padding, footer', async () => {
    const plain = plaintext(2 * S + 5)
    const stored = await encrypt(plain)
    expect(stored.byteLength).toBe(2 * (S + 28) + 5 + 28 + 52 + 32)
    expect(Buffer.from(stored.subarray(-32, -26)).toString()).toBe('S3VEIL')
    // Ciphertext is not plaintext, and two encryptions differ (random nonces).
    expect(toHex(stored.subarray(12, 44))).not.toBe(toHex(plain.subarray(0, 32)))
    expect(toHex(await encrypt(plain))).not.toBe(toHex(stored))
  })
})

describe('ranges of a single-PUT object', () => {
  const sizes = [1, 2, S - 1, S, S + 1, 2 * S, 3 * S + 7]

  function boundaryPoints(size: number): number[] {
    const points = new Set<number>()
    for (let k = 0; k <= Math.ceil(size / S); k++) for (const d of [-1, 0, 1]) points.add(k * S + d)
    for (const d of [0, 1, 2]) {
      points.add(d)
      points.add(size - 1 - d)
    }
    return [...points].filter((x) => x >= 0 && x < size).sort((a, b) => a - b)
  }

  for (const size of sizes) {
    it(`every boundary range of ${size} bytes`, async () => {
      const plain = plaintext(size, size)
      const stored = await encrypt(plain)
      const points = boundaryPoints(size)
      for (const start of points) {
        for (const end of points) {
          if (end < start) continue
          const range = { start, end }
          const grid = singlePartStoredRange(range)
          const exact = singlePartStoredRange(range, size)
          expect(exact.storedStart).toBe(grid.storedStart)
          // As fetched with the grid end (may run into the trailer) and with the exact end.
          for (const storedEnd of [Math.min(grid.storedEnd, stored.byteLength - 1), exact.storedEnd]) {
            const source = chunked(stored.subarray(exact.storedStart, storedEnd + 1), [5000])
            const got = await collect(decryptSinglePartRange(platform, env, size, range, source))
            expect(got.byteLength).toBe(end - start + 1)
            expect(Buffer.compare(got, plain.subarray(start, end + 1))).toBe(0)
          }
        }
      }
      // Suffix ranges (bytes=-n) resolve to end ranges.
      for (const n of [1, 2, S, size]) {
        if (n > size) continue
        const range = { start: size - n, end: size - 1 }
        const { storedStart } = singlePartStoredRange(range, size)
        const got = await collect(decryptSinglePartRange(platform, env, size, range, chunked(stored.subarray(storedStart))))
        expect(Buffer.compare(got, plain.subarray(size - n))).toBe(0)
      }
    })
  }

  it('stops reading after the last needed segment and releases the source', async () => {
    const size = 5 * S
    const stored = await encrypt(plaintext(size))
    const range = { start: S + 10, end: 2 * S + 10 }
    const { storedStart, storedEnd } = singlePartStoredRange(range, size)
    const source = trackedSource(stored.subarray(storedStart), 1000)
    const got = await collect(decryptSinglePartRange(platform, env, size, range, source))
    expect(got.byteLength).toBe(S + 1)
    expect(source.returned).toBe(true)
    expect(source.pulled).toBeLessThan(storedEnd - storedStart + 1 + 1000)
  })

  it('a consumer that stops early releases the source', async () => {
    const stored = await encrypt(plaintext(4 * S))
    const source = trackedSource(stored, 4096)
    for await (const chunk of decryptObject(platform, env, 4 * S, stored.byteLength, source)) {
      expect(chunk.byteLength).toBe(S)
      break
    }
    expect(source.returned).toBe(true)
    // The first piece is released once the second has verified (the last one waits for the trailer).
    expect(source.pulled).toBeLessThan(3 * STORED_SEGMENT_SIZE)
  })

  it('tampered or short sources fail, never yield wrong or short plaintext', async () => {
    const size = 3 * S + 7
    const plain = plaintext(size)
    const stored = await encrypt(plain)
    const read = (bytes: Uint8Array, range: { start: number; end: number }, plainSize = size) =>
      collect(decryptSinglePartRange(platform, env, plainSize, range, chunked(bytes.subarray(singlePartStoredRange(range).storedStart), [999])))
    await expectIntegrity(read(flip(stored, S + 28 + 100), { start: S, end: S }), 'segment')
    await expectIntegrity(read(flip(stored, S + 28), { start: S + 5, end: S + 5 }), 'segment') // nonce
    await expectIntegrity(read(flip(stored, 2 * (S + 28) - 1), { start: S, end: S }), 'segment') // tag
    await expectIntegrity(read(stored.subarray(0, 3 * (S + 28) + 20), { start: 3 * S, end: size - 1 }), 'truncated')
    await expectIntegrity(read(stored.subarray(0, S + 27), { start: 0, end: 0 }), 'truncated')
    // Segment swap: segment 2 served where segment 1 belongs.
    const swapped = splice(stored, S + 28, S + 28, stored.subarray(2 * (S + 28), 3 * (S + 28)))
    await expectIntegrity(read(swapped, { start: S, end: S }), 'segment')
    // The final segment must carry the last flag: an object cut after its 2nd segment (as if 2S long) is caught.
    await expectIntegrity(read(stored, { start: 2 * S - 1, end: 2 * S - 1 }, 2 * S), 'segment')
    // Another object under the same data key but another object id.
    await expectIntegrity(
      collect(decryptSinglePartRange(platform, { ...env, objectId: new Uint8Array(16) }, size, { start: 0, end: 0 }, chunked(stored))),
      'segment'
    )
    // And the untouched object still reads fine.
    expect(Buffer.compare(await read(stored, { start: 0, end: size - 1 }), plain)).toBe(0)
  })

  it('rejects ranges outside the object and multipart envelopes', async () => {
    const stored = await encrypt(plaintext(10))
    await expect(collect(decryptSinglePartRange(platform, env, 10, { start: 0, end: 10 }, chunked(stored)))).rejects.toThrow(RangeError)
    await expect(collect(decryptSinglePartRange(platform, env, 0, { start: 0, end: 0 }, chunked(stored)))).rejects.toThrow(RangeError)
    expect(() => decryptSinglePartRange(platform, { ...env, multipart: true }, 10, { start: 0, end: 1 }, chunked(stored))).toThrow(
      RangeError
    )
  })
})

describe('whole-object tampering', () => {
  const size = 2 * S + 100 // three segments, no padding
  const plain = plaintext(size)
  const storedP = encrypt(plain)
  const big = MIN_PART_SIZE + 123 // has 40 bytes of padding (room for a second part)
  const bigStoredP = encrypt(plaintext(big))

  async function failsWith(bytes: Uint8Array, check?: IntegrityError['check'], e = env) {
    const result = await drain(
      (async function* () {
        yield await readAsGateway(bytes, e)
      })()
    )
    expect(result.error).toBeInstanceOf(IntegrityError)
    if (check) expect((result.error as IntegrityError).check).toBe(check)
  }

  it('the untampered object reads back', async () => {
    expect(Buffer.compare(await readAsGateway(await storedP), plain)).toBe(0)
  })

  it('a flipped byte in any segment nonce, ciphertext or tag', async () => {
    const stored = await storedP
    const segStarts = [0, S + 28, 2 * (S + 28)]
    for (const at of segStarts) {
      await failsWith(flip(stored, at), 'segment') // nonce
      await failsWith(flip(stored, at + 12 + 50), 'segment') // ciphertext
    }
    await failsWith(flip(stored, S + 27), 'segment') // tag of segment 0
    await failsWith(flip(stored, 2 * (S + 28) + 100 + 27), 'segment') // tag of the last segment
  })

  it('plaintext before a bad segment may have been yielded, but the generator throws and keeps the last verified piece back', async () => {
    const stored = flip(await storedP, 2 * (S + 28) + 40)
    const result = await drain(decryptObject(platform, env, size, stored.byteLength, chunked(stored)))
    // Segments 0 and 1 verified, but segment 1 is still held back when segment 2 fails.
    expect(result.bytes).toBe(S)
    expect(result.error).toBeInstanceOf(IntegrityError)
  })

  it('a tampered trailer is found before the consumer holds the whole plaintext', async () => {
    const stored = flip(await storedP, (await storedP).byteLength - 20)
    const result = await drain(decryptObject(platform, env, size, stored.byteLength, chunked(stored)))
    expect(result.error).toBeInstanceOf(IntegrityError)
    expect(result.bytes).toBeLessThan(size)
  })

  it('a flipped byte in the manifest, padding or footer', async () => {
    const stored = await storedP
    const manifestAt = partStoredLength(size)
    await failsWith(flip(stored, manifestAt), 'manifest')
    await failsWith(flip(stored, manifestAt + 20), 'manifest')
    await failsWith(flip(stored, manifestAt + 51), 'manifest')
    for (const offset of [1, 6, 7, 8, 11, 12, 19, 20, 31]) await failsWith(flip(stored, stored.byteLength - 32 + offset))

    const bigStored = await bigStoredP
    const padAt = partStoredLength(big) + 52
    expect(bigStored.byteLength - padAt - FOOTER_SIZE).toBe(40)
    expect(Buffer.compare(await readAsGateway(bigStored), plaintext(big))).toBe(0)
    await failsWith(flip(bigStored, padAt), 'padding')
    await failsWith(flip(bigStored, padAt + 39), 'padding')
  })

  it('truncation by one byte, by a whole segment, or to the segments only', async () => {
    const stored = await storedP
    await failsWith(stored.subarray(0, stored.byteLength - 1)) // G(P−1): a valid size, so it must fail on content
    await failsWith(splice(stored, S + 28, S + 28)) // middle segment removed
    await failsWith(splice(stored, 2 * (S + 28), 100 + 28)) // last (partial) segment removed
    await failsWith(stored.subarray(0, partStoredLength(size)))
    // Also when the reader is told the original size but the stream ends early.
    const short = stored.subarray(0, stored.byteLength - 1)
    await expectIntegrity(collect(decryptObject(platform, env, size, stored.byteLength, chunked(short))), 'truncated')
    const noTrailer = stored.subarray(0, partStoredLength(size))
    await expectIntegrity(collect(decryptObject(platform, env, size, stored.byteLength, chunked(noTrailer))), 'truncated')
  })

  it('swapped segments, and segments from another object', async () => {
    const stored = await storedP
    const seg0 = stored.slice(0, S + 28)
    const seg1 = stored.slice(S + 28, 2 * (S + 28))
    await failsWith(splice(splice(stored, 0, S + 28, seg1), S + 28, S + 28, seg0), 'segment')
    // Same data key, other object id (e.g. a second object were it ever to share a key).
    const twin = await encrypt(plain, undefined, { ...env, objectId: new Uint8Array(16).fill(9) })
    await failsWith(splice(stored, S + 28, S + 28, twin.subarray(S + 28, 2 * (S + 28))), 'segment')
    // Another object of the same size under another key: its trailer does not open either.
    const other = await encrypt(plain, undefined, await envelope(false, 2))
    await failsWith(splice(stored, partStoredLength(size), 84, other.subarray(partStoredLength(size))), 'manifest')
    // A segment duplicated in place of the next.
    await failsWith(splice(stored, S + 28, S + 28, seg0), 'segment')
  })

  it('extra bytes appended', async () => {
    const stored = await storedP
    await failsWith(splice(stored, stored.byteLength, 0, Uint8Array.of(0)))
    await failsWith(splice(stored, stored.byteLength, 0, new Uint8Array(S + 28)))
    const extra = chunked(splice(stored, stored.byteLength, 0, Uint8Array.of(0)))
    await expectIntegrity(collect(decryptObject(platform, env, size, stored.byteLength, extra)), 'trailing-data')
    await expectIntegrity(collect(decryptObject(platform, env, size, stored.byteLength + 1, chunked(stored))), 'size')
  })

  it('the wrong key or object id', async () => {
    await failsWith(await storedP, 'segment', await envelope(false, 3))
  })
})

describe('encryption source handling', () => {
  async function* failingAtEnd(bytes: Uint8Array, error: Error): AsyncGenerator<Uint8Array> {
    yield* chunked(bytes, [10000])
    throw error
  }

  it('holds back the last segment and the trailer until the source ends normally', async () => {
    const size = 2 * S + 5
    const boom = new Error('bad chunk signature')
    const result = await drain(encryptObject(platform, env, size, failingAtEnd(plaintext(size), boom)))
    expect(result.error).toBe(boom)
    expect(result.bytes).toBe(2 * (S + 28))
    // Exactly on a segment edge too: the final full segment waits for the end.
    const edge = await drain(encryptObject(platform, env, 2 * S, failingAtEnd(plaintext(2 * S), boom)))
    expect(edge.error).toBe(boom)
    expect(edge.bytes).toBe(S + 28)
    const empty = await drain(encryptObject(platform, env, 0, failingAtEnd(new Uint8Array(0), boom)))
    expect(empty).toEqual({ bytes: 0, error: boom })
  })

  it('source errors mid-way propagate unchanged', async () => {
    const boom = new Error('client went away')
    async function* source() {
      yield new Uint8Array(S + 10)
      throw boom
    }
    const result = await drain(encryptObject(platform, env, 3 * S, source()))
    expect(result.error).toBe(boom)
  })

  it('too short or too long bodies are LengthMismatchErrors, before the end is produced', async () => {
    for (const [declared, actual] of [
      [10, 9],
      [10, 11],
      [0, 1],
      [S, S + 1],
      [S + 1, S],
      [2 * S, S],
    ] as const) {
      const result = await drain(encryptObject(platform, env, declared, chunked(plaintext(actual), [3000])))
      expect(result.error).toBeInstanceOf(LengthMismatchError)
      expect((result.error as LengthMismatchError).expected).toBe(declared)
      expect(result.bytes).toBeLessThan(storedSize(declared) - FOOTER_SIZE)
    }
  })

  it('empty chunks are fine', async () => {
    async function* source() {
      yield new Uint8Array(0)
      yield plaintext(5)
      yield new Uint8Array(0)
    }
    const stored = await collect(encryptObject(platform, env, 5, source()))
    expect(await readAsGateway(stored)).toEqual(plaintext(5))
  })

  it('a consumer that stops early releases the plaintext source', async () => {
    const source = trackedSource(plaintext(4 * S), 4096)
    for await (const chunk of encryptObject(platform, env, 4 * S, source)) {
      expect(chunk.byteLength).toBe(S + 28)
      break
    }
    expect(source.returned).toBe(true)
  })

  it('validates lengths and part numbers up front', async () => {
    await expect(collect(encryptObject(platform, env, -1, chunked(new Uint8Array(0))))).rejects.toThrow(RangeError)
    await expect(collect(encryptPart(platform, env, 0, 1, chunked(new Uint8Array(1))))).rejects.toThrow(RangeError)
    await expect(collect(encryptPart(platform, env, 10001, 1, chunked(new Uint8Array(1))))).rejects.toThrow(RangeError)
  })
})

describe('multipart layouts', async () => {
  const mpEnv = await envelope(true, 5)

  async function buildObject(parts: PartSpec[], salt = 0): Promise<{ stored: Uint8Array; plain: Uint8Array }> {
    const plains = parts.map((p, i) => plaintext(p.plainLength, salt + i))
    // Parts are encrypted independently (in any order, on any instance).
    const bodies = await Promise.all(
      parts.map((p, i) => collect(encryptPart(platform, mpEnv, p.partNumber, p.plainLength, chunked(plains[i]!, [77777]))))
    )
    bodies.forEach((body, i) => expect(body.byteLength).toBe(partStoredLength(parts[i]!.plainLength)))
    const bodyLength = bodies.reduce((a, b) => a + b.byteLength, 0)
    const trailer = await encodeTrailer(platform, mpEnv, parts, bodyLength)
    const stored = Buffer.concat([...bodies, trailer])
    const plain = Buffer.concat(plains)
    return { stored: new Uint8Array(stored), plain: new Uint8Array(plain) }
  }

  const layouts: PartSpec[][] = [
    [
      { partNumber: 1, plainLength: MIN_PART_SIZE + 1000 },
      { partNumber: 2, plainLength: 70000 },
    ],
    [
      { partNumber: 2, plainLength: MIN_PART_SIZE },
      { partNumber: 5, plainLength: MIN_PART_SIZE + 1 },
      { partNumber: 9, plainLength: 0 },
    ],
    [{ partNumber: 3, plainLength: 12345 }],
  ]

  for (const parts of layouts) {
    it(`parts ${parts.map((p) => `${p.partNumber}:${p.plainLength}`).join(' ')}`, async () => {
      const { stored, plain } = await buildObject(parts)
      const plainSize = plaintextSize(stored.byteLength)
      expect(plainSize).toBe(plain.byteLength)
      // One suffix read of maxTrailerLength gets the manifest.
      const tail = stored.subarray(Math.max(0, stored.byteLength - maxTrailerLength(plainSize!)))
      const manifest = await decodeTrailer(platform, mpEnv, tail, stored.byteLength)
      expect(manifest.parts).toEqual(parts)
      const whole = await collect(decryptObject(platform, mpEnv, plainSize!, stored.byteLength, chunked(stored, [50000]), manifest.parts))
      expect(Buffer.compare(whole, plain)).toBe(0)
      // Ranges across part boundaries.
      const placed = placeParts(manifest.parts)
      const edges = placed.flatMap((p) => [p.plainOffset - 1, p.plainOffset, p.plainOffset + 1, p.plainOffset + p.plainLength - 1])
      const points = [...new Set([0, ...edges, plainSize! - 1])].filter((x) => x >= 0 && x < plainSize!)
      for (const start of points) {
        for (const end of points) {
          if (end < start) continue
          const { storedStart } = storedRangeFor(placed, { start, end })
          const got = await collect(decryptRange(platform, mpEnv, manifest.parts, { start, end }, chunked(stored.subarray(storedStart), [65000])))
          expect(Buffer.compare(got, plain.subarray(start, end + 1))).toBe(0)
        }
      }
    })
  }

  it('needs the part list for a whole read, and checks it against the manifest', async () => {
    const parts = layouts[0]!
    const { stored } = await buildObject(parts)
    const plainSize = plaintextSize(stored.byteLength)!
    await expect(collect(decryptObject(platform, mpEnv, plainSize, stored.byteLength, chunked(stored)))).rejects.toThrow(/parts/)
    const wrong = [
      { partNumber: 1, plainLength: parts[0]!.plainLength },
      { partNumber: 3, plainLength: parts[1]!.plainLength },
    ]
    await expectIntegrity(collect(decryptObject(platform, mpEnv, plainSize, stored.byteLength, chunked(stored), wrong)), 'segment')
  })

  it('a footer claiming a longer (still plausible) trailer is an integrity failure', async () => {
    // Misaligned boundary: the body takes one extra segment overhead, so the trailer is 28 bytes under the bound.
    const parts = [
      { partNumber: 1, plainLength: MIN_PART_SIZE + 1 },
      { partNumber: 2, plainLength: S - 1 },
    ]
    const { stored } = await buildObject(parts)
    const plainSize = plaintextSize(stored.byteLength)!
    const footer = decodeFooter(stored.subarray(-32))
    expect(footer.manifestStoredLength + footer.paddingLength + 32).toBeLessThan(maxTrailerLength(plainSize))
    const forged = stored.slice()
    forged.set(encodeFooter({ ...footer, paddingLength: footer.paddingLength + 28 }), stored.byteLength - 32)
    await expectIntegrity(collect(decryptObject(platform, mpEnv, plainSize, stored.byteLength, chunked(forged), parts)), 'footer')
    await expectIntegrity(decodeTrailer(platform, mpEnv, forged, stored.byteLength)) // reads manifest bytes as padding
    await expect(decodeTrailer(platform, mpEnv, forged.subarray(-110), stored.byteLength)).rejects.toThrow(/need the last 124/)
  })

  it('parts reordered, or a part uploaded under another number, fail', async () => {
    const a = { partNumber: 1, plainLength: MIN_PART_SIZE }
    const b = { partNumber: 2, plainLength: MIN_PART_SIZE }
    const { stored } = await buildObject([a, b])
    const half = partStoredLength(MIN_PART_SIZE)
    const swapped = Buffer.concat([stored.subarray(half, 2 * half), stored.subarray(0, half), stored.subarray(2 * half)])
    await expectIntegrity(collect(decryptObject(platform, mpEnv, 2 * MIN_PART_SIZE, stored.byteLength, chunked(swapped), [a, b])), 'segment')
  })

  it('a non-64KiB-aligned middle part shifts the grid, which the layout accounts for', async () => {
    const parts = [
      { partNumber: 1, plainLength: MIN_PART_SIZE + 1 },
      { partNumber: 2, plainLength: 2 * S },
    ]
    const { stored, plain } = await buildObject(parts, 3)
    const range = { start: MIN_PART_SIZE + 1, end: MIN_PART_SIZE + 1 + S }
    const { storedStart, firstSpan } = storedRangeFor(placeParts(parts), range)
    expect(firstSpan).toMatchObject({ partNumber: 2, index: 0 })
    const got = await collect(decryptRange(platform, mpEnv, parts, range, chunked(stored.subarray(storedStart))))
    expect(Buffer.compare(got, plain.subarray(range.start, range.end + 1))).toBe(0)
  })
})
