import { describe, expect, it } from 'vitest'
import {
  FIXED_ALLOWANCE,
  FOOTER_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
  PER_PART_ALLOWANCE,
  SEGMENT_OVERHEAD,
  SEGMENT_SIZE,
  STORED_SEGMENT_SIZE,
  bodyStoredLength,
  manifestStoredLength,
  maxPartCount,
  maxTrailerLength,
  partListProblem,
  partStoredLength,
  placeParts,
  plaintextSize,
  segmentCount,
  segmentSpans,
  singlePartStoredRange,
  storedRangeFor,
  storedSize,
  type PartSpec,
} from './format.js'

const S = SEGMENT_SIZE
const MiB5 = MIN_PART_SIZE

/** Real stored size of a layout before padding: body + manifest + footer. */
function realSize(lengths: number[]): number {
  return lengths.reduce((sum, l) => sum + partStoredLength(l), 0) + manifestStoredLength(lengths.length) + FOOTER_SIZE
}

/** Deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Sizes near every place G's slope changes: segment edges, 5 MiB edges, the 10000-part cap. */
function interestingSizes(): number[] {
  const out = new Set<number>([0, 1, 2, 100, S - 1, S, S + 1, 2 * S - 1, 2 * S, 2 * S + 1])
  for (const base of [MiB5, 2 * MiB5, 7 * MiB5, 9998 * MiB5, 9999 * MiB5, 10000 * MiB5, 20000 * MiB5]) {
    for (let d = -S - 2; d <= S + 2; d += d > -3 && d < 3 ? 1 : S) out.add(base + d)
  }
  out.add(5 * 1024 ** 4) // 5 TiB
  return [...out].filter((n) => n >= 0).sort((a, b) => a - b)
}

describe('constants', () => {
  it('has the decided values', () => {
    expect(SEGMENT_SIZE).toBe(65536)
    expect(SEGMENT_OVERHEAD).toBe(28)
    expect(STORED_SEGMENT_SIZE).toBe(65564)
    expect(FOOTER_SIZE).toBe(32)
    expect(MIN_PART_SIZE).toBe(5 * 1024 * 1024)
    expect(MAX_PARTS).toBe(10000)
    expect(PER_PART_ALLOWANCE).toBe(40)
    expect(FIXED_ALLOWANCE).toBe(44)
    expect(manifestStoredLength(1)).toBe(52)
    expect(manifestStoredLength(10000)).toBe(120040)
  })
})

describe('sizes', () => {
  it('segmentCount and partStoredLength', () => {
    expect(segmentCount(0)).toBe(0)
    expect(segmentCount(1)).toBe(1)
    expect(segmentCount(S)).toBe(1)
    expect(segmentCount(S + 1)).toBe(2)
    expect(partStoredLength(0)).toBe(0)
    expect(partStoredLength(1)).toBe(29)
    expect(partStoredLength(S)).toBe(S + 28)
    expect(partStoredLength(3 * S + 7)).toBe(3 * S + 7 + 4 * 28)
    expect(() => segmentCount(-1)).toThrow(RangeError)
    expect(() => segmentCount(1.5)).toThrow(RangeError)
  })

  it('maxPartCount follows the 5 MiB minimum and the 10000 cap', () => {
    expect(maxPartCount(0)).toBe(1)
    expect(maxPartCount(MiB5 - 1)).toBe(1)
    expect(maxPartCount(MiB5)).toBe(2)
    expect(maxPartCount(9998 * MiB5)).toBe(9999)
    expect(maxPartCount(9999 * MiB5 - 1)).toBe(9999)
    expect(maxPartCount(9999 * MiB5)).toBe(10000)
    expect(maxPartCount(10 ** 13)).toBe(10000)
  })

  it('G(P) at known points', () => {
    expect(storedSize(0)).toBe(84)
    expect(storedSize(1)).toBe(1 + 28 + 40 + 44)
    expect(storedSize(S)).toBe(S + 28 + 84)
    expect(storedSize(S + 1)).toBe(S + 1 + 56 + 84)
    expect(storedSize(MiB5)).toBe(MiB5 + 80 * 28 + 80 + 44)
    expect(storedSize(5 * 1024 ** 4)).toBe(5 * 1024 ** 4 + 28 * 80 * 1024 ** 2 + 400044)
    expect(() => storedSize(-1)).toThrow(RangeError)
    expect(() => storedSize(Number.MAX_SAFE_INTEGER)).toThrow(RangeError)
  })

  it('the empty object is exactly manifest(1 part) + footer, with no padding', () => {
    expect(storedSize(0)).toBe(realSize([0]))
  })

  it('G is strictly increasing (every step, around every slope change, and random samples)', () => {
    const sizes = interestingSizes()
    for (const p of sizes) expect(storedSize(p + 1)).toBeGreaterThan(storedSize(p))
    for (let p = 0; p < 3 * S + 5; p++) expect(storedSize(p + 1)).toBeGreaterThan(storedSize(p))
    const rand = prng(1)
    for (let i = 0; i < 20000; i++) {
      const p = Math.floor(rand() * 6 * 1024 ** 4)
      expect(storedSize(p + 1)).toBeGreaterThan(storedSize(p))
    }
  })

  it('plaintextSize inverts G and is undefined off its image', () => {
    for (const p of interestingSizes()) {
      expect(plaintextSize(storedSize(p))).toBe(p)
      // Every stored size strictly between two consecutive images is not a v1 size.
      for (let s = storedSize(p) + 1; s < storedSize(p + 1); s++) expect(plaintextSize(s)).toBeUndefined()
    }
    for (let s = 0; s < 84; s++) expect(plaintextSize(s)).toBeUndefined()
    expect(plaintextSize(-1)).toBeUndefined()
    expect(plaintextSize(84.5)).toBeUndefined()
    expect(plaintextSize(Number.NaN)).toBeUndefined()
    for (let s = Number.MAX_SAFE_INTEGER - 100; s <= Number.MAX_SAFE_INTEGER; s++) {
      const p = plaintextSize(s)
      if (p !== undefined) expect(storedSize(p)).toBe(s)
    }
    expect(plaintextSize(Number.MAX_SAFE_INTEGER + 1)).toBeUndefined()
    const rand = prng(2)
    for (let i = 0; i < 2000; i++) {
      const p = Math.floor(rand() * 6 * 1024 ** 4)
      expect(plaintextSize(storedSize(p))).toBe(p)
    }
  })

  it('maxTrailerLength is 40·nmax + 44', () => {
    for (const p of interestingSizes()) expect(maxTrailerLength(p)).toBe(40 * maxPartCount(p) + 44)
  })
})

describe('every valid part layout fits in G(P) (brute force)', () => {
  function check(lengths: number[]): void {
    const p = lengths.reduce((a, b) => a + b, 0)
    expect(lengths.length).toBeLessThanOrEqual(maxPartCount(p))
    const real = realSize(lengths)
    if (real > storedSize(p)) throw new Error(`layout ${lengths.join(',')} needs ${real} > G=${storedSize(p)}`)
    // The trailer of every layout fits in the suffix a reader fetches without knowing the layout.
    expect(storedSize(p) - bodyStoredLength(lengths.map((plainLength, i) => ({ partNumber: i + 1, plainLength })))).toBeLessThanOrEqual(
      maxTrailerLength(p)
    )
  }

  it('single parts of every small size', () => {
    for (let p = 0; p <= 4 * S + 3; p++) {
      expect(realSize([p])).toBe(storedSize(p)) // below 5 MiB a single part needs no padding
    }
  })

  it('adversarial layouts: every non-last part just over 5 MiB, as many parts as allowed', () => {
    for (let n = 1; n <= 60; n++) {
      for (const extra of [0, 1, 2, S - 1, S, S + 1, 12345]) {
        for (const lastLen of [0, 1, S - 2, S - 1, S, S + 1, MiB5 - 1, MiB5, 3 * MiB5 + 17]) {
          check([...Array<number>(n - 1).fill(MiB5 + extra), lastLen])
        }
      }
    }
  })

  it('the bound is attained (padding 0) by a layout with a partial segment at every boundary', () => {
    const lengths = [MiB5 + 1, MiB5 + 1, S - 2]
    const p = lengths.reduce((a, b) => a + b, 0)
    expect(maxPartCount(p)).toBe(3)
    expect(realSize(lengths)).toBe(storedSize(p))
  })

  it('random layouts', () => {
    const rand = prng(3)
    for (let i = 0; i < 5000; i++) {
      const n = 1 + Math.floor(rand() * 40)
      const lengths: number[] = []
      for (let j = 0; j < n - 1; j++) lengths.push(MiB5 + Math.floor(rand() * (rand() < 0.5 ? 2 * S : 50 * MiB5)))
      lengths.push(Math.floor(rand() * (rand() < 0.5 ? 2 * S : 20 * MiB5)))
      check(lengths)
    }
  })

  it('near the 10000-part cap', () => {
    check([...Array<number>(9999).fill(MiB5 + 1), S - 1])
    check([...Array<number>(9999).fill(MiB5 + S + 1), 0])
    check([...Array<number>(9999).fill(MiB5), 5 * MiB5 + 3])
    check([...Array<number>(10000).fill(MiB5 + 1)])
  })
})

describe('part lists', () => {
  it('partListProblem', () => {
    expect(partListProblem([{ partNumber: 1, plainLength: 0 }])).toBeUndefined()
    expect(partListProblem([{ partNumber: 2, plainLength: 5 }, { partNumber: 10000, plainLength: 1 }])).toBeUndefined()
    expect(partListProblem([])).toMatch(/part count/)
    expect(partListProblem([{ partNumber: 0, plainLength: 0 }])).toMatch(/part numbers/)
    expect(partListProblem([{ partNumber: 10001, plainLength: 0 }])).toMatch(/part numbers/)
    expect(partListProblem([{ partNumber: 2, plainLength: 0 }, { partNumber: 2, plainLength: 0 }])).toMatch(/part numbers/)
    expect(partListProblem([{ partNumber: 3, plainLength: 0 }, { partNumber: 2, plainLength: 0 }])).toMatch(/part numbers/)
    expect(partListProblem([{ partNumber: 1, plainLength: -1 }])).toMatch(/length/)
    expect(partListProblem([{ partNumber: 1, plainLength: 0.5 }])).toMatch(/length/)
  })

  it('placeParts', () => {
    expect(placeParts([{ partNumber: 1, plainLength: S + 1 }, { partNumber: 4, plainLength: 10 }])).toEqual([
      { partNumber: 1, plainLength: S + 1, plainOffset: 0, storedOffset: 0, storedLength: S + 1 + 56 },
      { partNumber: 4, plainLength: 10, plainOffset: S + 1, storedOffset: S + 57, storedLength: 38 },
    ])
  })
})

describe('range mapping', () => {
  /** Where plaintext byte x lives in stored space, computed byte by byte. */
  function storedOffsetOf(parts: PartSpec[], x: number): { part: number; index: number; stored: number } {
    let plain = 0
    let stored = 0
    for (const part of parts) {
      if (x < plain + part.plainLength) {
        const within = x - plain
        const index = Math.floor(within / S)
        return { part: part.partNumber, index, stored: stored + index * (S + 28) + 12 + (within % S) }
      }
      plain += part.plainLength
      stored += partStoredLength(part.plainLength)
    }
    throw new Error('out of range')
  }

  const layouts: PartSpec[][] = [
    [{ partNumber: 1, plainLength: 3 * S + 5 }],
    [{ partNumber: 1, plainLength: S }],
    [
      { partNumber: 1, plainLength: 2 * S + 3 },
      { partNumber: 2, plainLength: 0 },
      { partNumber: 5, plainLength: S },
      { partNumber: 6, plainLength: 7 },
    ],
  ]

  it('segmentSpans covers exactly the range, contiguously, with the right positions and flags', () => {
    for (const parts of layouts) {
      const total = parts.reduce((a, p) => a + p.plainLength, 0)
      const placed = placeParts(parts)
      const points = [...new Set([0, 1, 2, S - 1, S, S + 1, 2 * S, 2 * S + 2, 2 * S + 3, 3 * S, total - 2, total - 1])].filter(
        (x) => x >= 0 && x < total
      )
      for (const start of points) {
        for (const end of points) {
          if (end < start) continue
          const spans = [...segmentSpans(placed, { start, end })]
          expect(spans[0]!.plainOffset).toBeLessThanOrEqual(start)
          const lastSpan = spans[spans.length - 1]!
          expect(lastSpan.plainOffset + lastSpan.plainLength - 1).toBeGreaterThanOrEqual(end)
          for (let i = 1; i < spans.length; i++) {
            expect(spans[i]!.storedOffset).toBe(spans[i - 1]!.storedOffset + spans[i - 1]!.storedLength)
            expect(spans[i]!.plainOffset).toBe(spans[i - 1]!.plainOffset + spans[i - 1]!.plainLength)
          }
          for (const span of spans) {
            const at = storedOffsetOf(parts, span.plainOffset)
            expect([at.part, at.index, at.stored - 12]).toEqual([span.partNumber, span.index, span.storedOffset])
            expect(span.storedLength).toBe(span.plainLength + 28)
            const part = parts.find((p) => p.partNumber === span.partNumber)!
            expect(span.last).toBe(span.index === segmentCount(part.plainLength) - 1)
          }
          const { storedStart, storedEnd } = storedRangeFor(placed, { start, end })
          expect(storedStart).toBe(spans[0]!.storedOffset)
          expect(storedEnd).toBe(lastSpan.storedOffset + lastSpan.storedLength - 1)
        }
      }
    }
  })

  it('rejects ranges outside the object', () => {
    const placed = placeParts([{ partNumber: 1, plainLength: 10 }])
    expect(() => [...segmentSpans(placed, { start: 0, end: 10 })]).toThrow(RangeError)
    expect(() => [...segmentSpans(placed, { start: 5, end: 4 })]).toThrow(RangeError)
    expect(() => [...segmentSpans(placed, { start: -1, end: 4 })]).toThrow(RangeError)
    expect(() => [...segmentSpans(placeParts([{ partNumber: 1, plainLength: 0 }]), { start: 0, end: 0 })]).toThrow(RangeError)
  })

  it('singlePartStoredRange on the 64 KiB grid', () => {
    expect(singlePartStoredRange({ start: 0, end: 0 })).toEqual({ storedStart: 0, storedEnd: S + 27, firstSegment: 0, lastSegment: 0 })
    expect(singlePartStoredRange({ start: 0, end: 0 }, 5)).toEqual({ storedStart: 0, storedEnd: 32, firstSegment: 0, lastSegment: 0 })
    expect(singlePartStoredRange({ start: S - 1, end: S })).toEqual({
      storedStart: 0,
      storedEnd: 2 * (S + 28) - 1,
      firstSegment: 0,
      lastSegment: 1,
    })
    expect(singlePartStoredRange({ start: S, end: 2 * S + 1 }, 2 * S + 10)).toEqual({
      storedStart: S + 28,
      storedEnd: 2 * (S + 28) + 10 + 28 - 1,
      firstSegment: 1,
      lastSegment: 2,
    })
    expect(() => singlePartStoredRange({ start: 0, end: 5 }, 5)).toThrow(RangeError)
    // Same answer as the general mapping for a single part.
    const placed = placeParts([{ partNumber: 1, plainLength: 3 * S + 5 }])
    for (const [start, end] of [
      [0, 3 * S + 4],
      [S, S],
      [3 * S, 3 * S + 4],
      [7, 2 * S],
    ] as const) {
      const general = storedRangeFor(placed, { start, end })
      const single = singlePartStoredRange({ start, end }, 3 * S + 5)
      expect([single.storedStart, single.storedEnd]).toEqual([general.storedStart, general.storedEnd])
    }
  })
})
