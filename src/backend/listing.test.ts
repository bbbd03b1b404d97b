/** @module backend/listing.test */
import { describe, expect, it } from 'vitest'
import { S3Error } from '../s3/errors.js'
import {
  compareKeys,
  decodeContinuationToken,
  encodeContinuationToken,
  unwrapUpstreamToken,
  wrapUpstreamToken,
  listPage,
  sortByKey,
  type ListWindow,
} from './listing.js'

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))

function entries(keys: string[]): { key: string }[] {
  return sortByKey(keys.map((key) => ({ key })))
}

// 'z' < U+E000 < U+1F600 in UTF-8 byte order, although JS `<` puts U+1F600 (a surrogate pair) first.
const KEYS = ['a', 'a/b', 'a/c/d', 'a/c/e', 'b', 'b/', 'c/x', 'd', 'z', '\ue000', '😀']
const SORTED = entries(KEYS)

interface Case {
  name: string
  window: Partial<ListWindow>
  objects: string[]
  prefixes?: string[]
  truncated?: boolean
  nextMarker?: string
}

const ALL = ['a', 'a/b', 'a/c/d', 'a/c/e', 'b', 'b/', 'c/x', 'd', 'z', '\ue000', '😀']

const CASES: Case[] = [
  { name: 'everything, in UTF-8 byte order', window: {}, objects: ALL },
  { name: 'prefix', window: { prefix: 'a/' }, objects: ['a/b', 'a/c/d', 'a/c/e'] },
  { name: 'prefix matching nothing', window: { prefix: 'q' }, objects: [] },
  { name: 'prefix equal to a key', window: { prefix: 'b' }, objects: ['b', 'b/'] },
  {
    name: 'delimiter rolls keys up, key "b/" into "b/"',
    window: { delimiter: '/' },
    objects: ['a', 'b', 'd', 'z', '\ue000', '😀'],
    prefixes: ['a/', 'b/', 'c/'],
  },
  { name: 'prefix and delimiter', window: { prefix: 'a/', delimiter: '/' }, objects: ['a/b'], prefixes: ['a/c/'] },
  {
    name: 'prefix not ending in the delimiter',
    window: { prefix: 'a', delimiter: '/' },
    objects: ['a'],
    prefixes: ['a/'],
  },
  {
    name: 'multi-character delimiter',
    window: { delimiter: '/c/' },
    objects: ALL.filter((k) => !k.startsWith('a/c/')),
    prefixes: ['a/c/'],
  },
  { name: 'delimiter absent from keys', window: { delimiter: '#' }, objects: ALL },
  { name: 'empty delimiter is no delimiter', window: { delimiter: '' }, objects: ALL },
  { name: 'marker (exclusive)', window: { marker: 'a/c/d' }, objects: ALL.slice(3) },
  { name: 'marker that is not a key', window: { marker: 'c' }, objects: ['c/x', 'd', 'z', '\ue000', '😀'] },
  { name: 'marker in the unicode range', window: { marker: 'z' }, objects: ['\ue000', '😀'] },
  { name: 'marker U+E000 keeps U+1F600', window: { marker: '\ue000' }, objects: ['😀'] },
  { name: 'marker past everything', window: { marker: '😀' }, objects: [] },
  { name: 'marker before the prefix', window: { prefix: 'c', marker: 'a' }, objects: ['c/x'] },
  { name: 'marker after the prefix range', window: { prefix: 'a', marker: 'b' }, objects: [] },
  {
    name: 'marker equal to a common prefix skips the keys under it',
    window: { delimiter: '/', marker: 'a/' },
    objects: ['b', 'd', 'z', '\ue000', '😀'],
    prefixes: ['b/', 'c/'],
  },
  {
    name: 'marker inside a common prefix does not repeat it',
    window: { delimiter: '/', marker: 'a/c/d' },
    objects: ['b', 'd', 'z', '\ue000', '😀'],
    prefixes: ['b/', 'c/'],
  },
  { name: 'startAfter', window: { startAfter: 'c/x' }, objects: ['d', 'z', '\ue000', '😀'] },
  {
    name: 'continuation token wins over startAfter',
    window: { startAfter: 'a', continuationToken: encodeContinuationToken('d') },
    objects: ['z', '\ue000', '😀'],
  },
  {
    name: 'continuation token at a common prefix skips the keys under it',
    window: { prefix: 'a/', delimiter: '/', continuationToken: encodeContinuationToken('a/c/') },
    objects: [],
  },
  { name: 'maxKeys 0: empty and not truncated', window: { maxKeys: 0 }, objects: [] },
  { name: 'maxKeys N-1', window: { maxKeys: 10 }, objects: ALL.slice(0, 10), truncated: true, nextMarker: '\ue000' },
  { name: 'maxKeys N', window: { maxKeys: 11 }, objects: ALL },
  { name: 'maxKeys N+1', window: { maxKeys: 12 }, objects: ALL },
  { name: 'maxKeys 1', window: { maxKeys: 1 }, objects: ['a'], truncated: true, nextMarker: 'a' },
  {
    name: 'a common prefix counts once toward maxKeys',
    window: { delimiter: '/', maxKeys: 3 },
    objects: ['a', 'b'],
    prefixes: ['a/'],
    truncated: true,
    nextMarker: 'b',
  },
  {
    name: 'page ending on a common prefix',
    window: { delimiter: '/', maxKeys: 2 },
    objects: ['a'],
    prefixes: ['a/'],
    truncated: true,
    nextMarker: 'a/',
  },
  {
    name: 'delimited items N-1 / N / N+1 (9 items)',
    window: { delimiter: '/', maxKeys: 8 },
    objects: ['a', 'b', 'd', 'z', '\ue000'],
    prefixes: ['a/', 'b/', 'c/'],
    truncated: true,
    nextMarker: '\ue000',
  },
  {
    name: 'delimited, maxKeys N',
    window: { delimiter: '/', maxKeys: 9 },
    objects: ['a', 'b', 'd', 'z', '\ue000', '😀'],
    prefixes: ['a/', 'b/', 'c/'],
  },
  {
    name: 'not truncated when only keys rolled into the last prefix remain',
    window: { prefix: 'a/', delimiter: '/', maxKeys: 2 },
    objects: ['a/b'],
    prefixes: ['a/c/'],
  },
  { name: 'maxKeys above 1000 is capped, not an error', window: { maxKeys: 5000 }, objects: ALL },
]

describe('listPage', () => {
  it.each(CASES)('$name', ({ window, objects, prefixes = [], truncated = false, nextMarker }) => {
    const page = listPage(SORTED, { maxKeys: 1000, ...window })
    expect(page.objects.map((o) => o.key)).toEqual(objects)
    expect(page.commonPrefixes).toEqual(prefixes)
    expect(page.isTruncated).toBe(truncated)
    expect(page.nextMarker).toBe(nextMarker)
    if (truncated) expect(decodeContinuationToken(page.nextContinuationToken!)).toBe(nextMarker)
    else expect(page.nextContinuationToken).toBeUndefined()
  })

  it('caps maxKeys at 1000', () => {
    const many = entries(Array.from({ length: 1500 }, (_, i) => `k${String(i).padStart(4, '0')}`))
    const page = listPage(many, { maxKeys: 5000 })
    expect(page.objects).toHaveLength(1000)
    expect(page.isTruncated).toBe(true)
    expect(page.nextMarker).toBe('k0999')
  })

  it('rejects a negative or fractional maxKeys', () => {
    expect(() => listPage(SORTED, { maxKeys: -1 })).toThrow(S3Error)
    expect(() => listPage(SORTED, { maxKeys: 1.5 })).toThrow(S3Error)
  })

  it('returns the caller’s entries, not copies', () => {
    const page = listPage(SORTED, { maxKeys: 1 })
    expect(page.objects[0]).toBe(SORTED[0])
  })
})

describe('continuation tokens', () => {
  it.each(['', 'a', 'a/', '😀/ü', '\u0000', 'x'.repeat(1024), '+/=?'])('round-trip %j', (key) => {
    const token = encodeContinuationToken(key)
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeContinuationToken(token)).toBe(key)
  })

  it.each(['', 'not a token!', 'YWJj', '////', '%%'])('rejects %j', (token) => {
    try {
      decodeContinuationToken(token)
      expect.unreachable()
    } catch (err) {
      expect((err as S3Error).code).toBe('InvalidArgument')
    }
  })

  it.each(['1ueX+bq/0=', 'g2wAAAABaAJkAAR0ZXN0', ''])('wraps and unwraps the upstream token %j', (upstream) => {
    const token = wrapUpstreamToken(upstream)
    expect(token).toMatch(/^[A-Za-z0-9_-]*$/)
    expect(unwrapUpstreamToken(token)).toBe(upstream)
  })

  it('never reads one kind of token as the other, nor a made-up one', () => {
    for (const [decode, token] of [
      [unwrapUpstreamToken, encodeContinuationToken('a')],
      [decodeContinuationToken, wrapUpstreamToken('a')],
      [unwrapUpstreamToken, 'not-a-token'],
      [unwrapUpstreamToken, 'bm90IGEgdG9rZW4='],
    ] as const) {
      try {
        decode(token)
        expect.unreachable()
      } catch (err) {
        expect((err as S3Error).code).toBe('InvalidArgument')
      }
    }
  })

  it('rejects a garbage token given to listPage', () => {
    expect(() => listPage(SORTED, { maxKeys: 10, continuationToken: 'garbage' })).toThrow(S3Error)
  })
})

describe('compareKeys', () => {
  it('orders by UTF-8 bytes', () => {
    const keys = ['a', 'ab', 'b', 'z', 'ü', '\ue000', '\uffff', '😀', '\u{10ffff}', '', '\u0000', 'a\u0000']
    keys.push('a😀', 'a\uffff')
    const ours = [...keys].sort(compareKeys)
    expect(ours).toEqual([...keys].sort(byteOrder))
    expect(ours).not.toEqual([...keys].sort())
  })
})

describe('paging through random key sets agrees with a brute-force model', () => {
  const alphabet = ['a', 'b', '/', '.', 'ü', '\ue000', '😀']
  let seed = 42
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x80000000
  }
  const pick = () => alphabet[Math.floor(random() * alphabet.length)]!
  const randomKey = () => Array.from({ length: 1 + Math.floor(random() * 5) }, pick).join('')

  /** All items a listing returns, in order, computed the obvious way. */
  function model(keys: string[], prefix: string, delimiter: string | undefined, after: string | undefined) {
    const items = new Map<string, 'key' | 'prefix'>()
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue
      const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1
      if (at >= 0) items.set(key.slice(0, at + delimiter!.length), 'prefix')
      else items.set(key, 'key')
    }
    return [...items.entries()]
      .filter(([item]) => after === undefined || byteOrder(item, after) > 0)
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([item, kind]) => `${kind}:${item}`)
  }

  function pageAll(sorted: { key: string }[], window: Omit<ListWindow, 'maxKeys'>, maxKeys: number, v2: boolean) {
    const seen: string[] = []
    let cursor: Partial<ListWindow> = {}
    for (let pages = 0; pages < 1000; pages++) {
      const page = listPage(sorted, { ...window, ...cursor, maxKeys })
      const items = [
        ...page.objects.map((o) => `key:${o.key}`),
        ...page.commonPrefixes.map((p) => `prefix:${p}`),
      ].sort((a, b) => byteOrder(a.slice(a.indexOf(':') + 1), b.slice(b.indexOf(':') + 1)))
      expect(items.length).toBeLessThanOrEqual(maxKeys)
      seen.push(...items)
      if (!page.isTruncated) {
        expect(page.nextMarker).toBeUndefined()
        return seen
      }
      expect(items.length).toBe(maxKeys)
      const last = items[items.length - 1]!
      expect(page.nextMarker).toBe(last.slice(last.indexOf(':') + 1))
      cursor = v2 ? { continuationToken: page.nextContinuationToken } : { marker: page.nextMarker }
    }
    throw new Error('listing did not terminate')
  }

  for (let round = 0; round < 40; round++) {
    const keys = [...new Set(Array.from({ length: 1 + Math.floor(random() * 40) }, randomKey))]
    const prefix = random() < 0.5 ? '' : randomKey().slice(0, 1)
    const delimiter = random() < 0.3 ? undefined : random() < 0.8 ? '/' : 'ü/'
    const after = random() < 0.6 ? undefined : randomKey()
    const maxKeys = 1 + Math.floor(random() * 6)
    const name = `round ${round}: ${keys.length} keys, prefix ${JSON.stringify(prefix)}, delimiter ${JSON.stringify(delimiter)}`
    it(`${name}, max ${maxKeys}`, () => {
      const sorted = entries(keys)
      const expected = model(keys, prefix, delimiter, after)
      const window = { prefix, delimiter, marker: after }
      expect(pageAll(sorted, window, 1000, false)).toEqual(expected)
      expect(pageAll(sorted, window, maxKeys, false)).toEqual(expected)
      expect(pageAll(sorted, { prefix, delimiter, startAfter: after }, maxKeys, true)).toEqual(expected)
    })
  }
})
