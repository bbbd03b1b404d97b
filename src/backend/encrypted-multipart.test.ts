/** @module backend/encrypted-multipart.test — the decorator's pure multipart pieces. */
import { describe, expect, it } from 'vitest'
import { SEGMENT_SIZE, partStoredLength } from '../crypto/format.js'
import {
  AFTER_INTERNAL_KEYS,
  ManifestCache,
  TRAILER_PART_NUMBER,
  isInternalKey,
  isPlausibleUploadId,
  keptPartKey,
  keptPartNumber,
  keptPartsPrefix,
  mergeParts,
  partPlainLength,
  uploadPrefix,
  uploadRecordKey,
} from './encrypted-multipart.js'
import { compareKeys } from './listing.js'

const S = SEGMENT_SIZE

describe('partPlainLength (inverse of partStoredLength)', () => {
  it('inverts every length around segment and 5 MiB boundaries', () => {
    const lengths = [0, 1, 2, 27, 28, 29, S - 1, S, S + 1, 2 * S - 1, 2 * S, 2 * S + 1, 5 * 1024 * 1024 - 1, 5 * 1024 * 1024]
    for (const k of [1, 80, 81, 1000]) for (const d of [-1, 0, 1]) lengths.push(k * S + d)
    for (const plain of lengths) expect(partPlainLength(partStoredLength(plain))).toBe(plain)
  })

  it('is exact over a whole range and undefined for sizes no part has', () => {
    const seen = new Map<number, number>()
    for (let plain = 0; plain <= 3 * S + 100; plain++) seen.set(partStoredLength(plain), plain)
    const wrong: number[] = []
    for (let stored = 0; stored <= partStoredLength(3 * S + 100); stored++) {
      if (partPlainLength(stored) !== seen.get(stored)) wrong.push(stored)
    }
    expect(wrong).toEqual([])
    expect(partPlainLength(1)).toBeUndefined()
    expect(partPlainLength(28)).toBeUndefined()
    expect(partPlainLength(S + 28 + 28)).toBeUndefined()
    expect(partPlainLength(-1)).toBeUndefined()
    expect(partPlainLength(1.5)).toBeUndefined()
  })
})

describe('internal keys', () => {
  it('live under the reserved prefix, one prefix per upload', () => {
    expect(uploadRecordKey('2~abc')).toBe('.s3veil/uploads/2~abc/record')
    expect(keptPartKey('2~abc', 7)).toBe('.s3veil/uploads/2~abc/part/00007')
    for (const key of [uploadRecordKey('x'), keptPartKey('x', 10000)]) {
      expect(isInternalKey(key)).toBe(true)
      expect(key.startsWith(uploadPrefix('x'))).toBe(true)
    }
    expect(isInternalKey('.s3veil')).toBe(false)
    expect(isInternalKey('s3veil/x')).toBe(false)
    expect(isInternalKey('.s3veilx/y')).toBe(false)
  })

  it('percent-encode the upload id, so no id reaches into another upload\'s keys', () => {
    expect(uploadPrefix('a/part')).toBe('.s3veil/uploads/a%2Fpart/')
    expect(keptPartsPrefix('a')).not.toBe(uploadPrefix('a/part'))
  })

  it('parse kept-aside part numbers back', () => {
    expect(keptPartNumber('u', keptPartKey('u', 42))).toBe(42)
    expect(keptPartNumber('u', keptPartKey('v', 42))).toBeUndefined()
    expect(keptPartNumber('u', uploadRecordKey('u'))).toBeUndefined()
    expect(keptPartNumber('u', `${keptPartsPrefix('u')}12`)).toBeUndefined()
  })

  it('AFTER_INTERNAL_KEYS sorts after every internal key and before every later client key', () => {
    for (const key of [uploadRecordKey('z'.repeat(500)), keptPartKey('~~~', 10000), '.s3veil/', '.s3veil/\u{FFFF}']) {
      expect(compareKeys(key, AFTER_INTERNAL_KEYS)).toBeLessThan(0)
    }
    for (const key of ['.s3veil0', '.s3veilz', '/', 'a', '\u{10000}']) expect(compareKeys(key, AFTER_INTERNAL_KEYS)).toBeGreaterThan(0)
  })

  it('accepts printable upload ids only', () => {
    expect(isPlausibleUploadId('2~Zx_y-z.1')).toBe(true)
    for (const bad of ['', 'a b', 'a\nb', 'é', 'x'.repeat(513)]) expect(isPlausibleUploadId(bad)).toBe(false)
  })
})

describe('mergeParts', () => {
  const t = (s: number) => new Date(s * 1000)
  const part = (partNumber: number, etag: string, at: number) => ({ partNumber, etag, size: 10, lastModified: t(at) })

  it('drops the trailer part, keeps one copy per number (later wins, kept-aside on a tie), sorted', () => {
    const merged = mergeParts(
      [part(3, 'u3', 5), part(1, 'u1', 5), part(2, 'u2', 9), part(TRAILER_PART_NUMBER, 'trailer', 9)],
      [part(2, 'k2', 8), part(3, 'k3', 5), part(4, 'k4', 1)]
    )
    expect(merged.map((p) => `${p.partNumber}:${p.etag}:${p.source}`)).toEqual(['1:u1:upstream', '2:u2:upstream', '3:k3:kept', '4:k4:kept'])
  })
})

describe('ManifestCache', () => {
  const parts = (n: number) => Array.from({ length: n }, (_, i) => ({ partNumber: i + 1, plainLength: 1 }))

  it('evicts the least recently used entry beyond its entry bound', () => {
    const cache = new ManifestCache(2, 1000)
    cache.set('a', parts(1))
    cache.set('b', parts(1))
    expect(cache.get('a')).toHaveLength(1)
    cache.set('c', parts(1))
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')).toBeDefined()
    expect(cache.get('c')).toBeDefined()
    expect(cache.size).toBe(2)
  })

  it('bounds the total number of parts held, and never holds a list larger than that', () => {
    const cache = new ManifestCache(100, 10)
    cache.set('a', parts(6))
    cache.set('b', parts(4))
    cache.set('c', parts(3))
    expect(cache.get('a')).toBeUndefined()
    expect(cache.get('b')).toBeDefined()
    cache.set('huge', parts(11))
    expect(cache.get('huge')).toBeUndefined()
    cache.set('b', parts(10))
    expect(cache.size).toBe(1)
  })

  it('keys on bucket, key, ETag and object id', () => {
    const id = new Uint8Array(16).fill(1)
    expect(ManifestCache.key('b', 'k', '"e"', id)).not.toBe(ManifestCache.key('b', 'k', '"e"', new Uint8Array(16)))
    expect(ManifestCache.key('b', 'k\0x', '"e"', id)).not.toBe(ManifestCache.key('b', 'k', 'x\0"e"', id))
  })
})
