/**
 * @module conformance/cases/list
 * ListObjects (v1) and ListObjectsV2: pagination (max-keys, continuation-token, start-after, marker),
 * delimiter and CommonPrefixes, prefix, encoding-type=url with special keys, fetch-owner, empty results.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html
 */
import { ListObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { signedRequest, xmlValue, xmlValues } from '../support/http.js'
import { expectS3Error, put } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
let empty: string
/** A small tree: two top-level files, a/ with three, a/b/ with one, c/ with one. */
const KEYS = ['a/1.txt', 'a/2.txt', 'a/3.txt', 'a/b/deep.txt', 'c/only.txt', 'root-1.txt', 'root-2.txt']
/** Keys whose listing differs once URL-encoded. */
const ENCODED_KEYS = ['enc/a b.txt', 'enc/a+b.txt', 'enc/100%.csv', 'enc/ü.txt', 'enc/x&y<z>.txt']

beforeAll(async () => {
  bucket = await freshBucket('list')
  empty = await freshBucket('list-empty')
  for (const key of [...KEYS, ...ENCODED_KEYS]) await put(s3, bucket, key, key)
})
afterAll(() => s3.destroy())

area('list', () => {
  conformanceCase('list.v2-all', 'ListObjectsV2 lists every key in UTF-8 binary order with size, ETag and date', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '' }))
    const all = [...KEYS, ...ENCODED_KEYS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    expect(out.Contents?.map((o) => o.Key)).toEqual(all)
    expect(out.KeyCount).toBe(all.length)
    expect(out.IsTruncated).toBe(false)
    expect(out.NextContinuationToken).toBeUndefined()
    for (const o of out.Contents ?? []) {
      expect(o.Size).toBe(Buffer.byteLength(o.Key!))
      expect(o.ETag).toMatch(/^"[^"]+"$/)
      expect(o.LastModified).toBeInstanceOf(Date)
      expect(o.StorageClass).toBeTruthy()
    }
  })

  conformanceCase('list.v2-pagination', 'ListObjectsV2 max-keys=2 pages with continuation tokens: 2, 2, 2, 1, truncated until the last', async () => {
    const pages: string[][] = []
    let token: string | undefined
    do {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: token }))
      pages.push((out.Contents ?? []).map((o) => o.Key!))
      expect(out.MaxKeys).toBe(2)
      expect(out.KeyCount).toBe(out.Contents?.length ?? 0)
      expect(out.KeyCount).toBeLessThanOrEqual(2)
      expect(out.IsTruncated).toBe(out.NextContinuationToken !== undefined)
      if (token) expect(out.ContinuationToken).toBe(token)
      token = out.NextContinuationToken
    } while (token)
    const total = KEYS.length + ENCODED_KEYS.length
    expect(pages.map((p) => p.length)).toEqual([...Array(Math.floor(total / 2)).fill(2), ...(total % 2 ? [1] : [])])
    expect(pages.flat().length).toBe(new Set(pages.flat()).size)
  })

  conformanceCase('list.v2-start-after', 'ListObjectsV2 start-after: keys after it only, echoed as StartAfter', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'a/3.txt', Prefix: 'a/' }))
    expect(out.Contents?.map((o) => o.Key)).toEqual(['a/b/deep.txt'])
    expect(out.StartAfter).toBe('a/3.txt')
  })

  conformanceCase('list.v2-delimiter', 'ListObjectsV2 delimiter=/: top-level keys and CommonPrefixes; prefix a/ one level down', async () => {
    const top = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }))
    expect(top.Contents?.map((o) => o.Key)).toEqual(['root-1.txt', 'root-2.txt'])
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c/', 'enc/'])
    expect(top.KeyCount).toBe(5)
    expect(top.Delimiter).toBe('/')
    const a = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', Prefix: 'a/' }))
    expect(a.Contents?.map((o) => o.Key)).toEqual(['a/1.txt', 'a/2.txt', 'a/3.txt'])
    expect(a.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/'])
    expect(a.Prefix).toBe('a/')
  })

  conformanceCase('list.v2-delimiter-pagination', 'ListObjectsV2 delimiter with max-keys=1: a CommonPrefix counts as one entry per page', async () => {
    const seen: string[] = []
    let token: string | undefined
    do {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 1, ContinuationToken: token }))
      const entries = [...(out.Contents ?? []).map((o) => o.Key!), ...(out.CommonPrefixes ?? []).map((p) => p.Prefix!)]
      expect(entries.length).toBe(1)
      seen.push(...entries)
      token = out.NextContinuationToken
    } while (token)
    expect(seen).toEqual(['a/', 'c/', 'enc/', 'root-1.txt', 'root-2.txt'])
  })

  conformanceCase('list.v2-prefix-none', 'ListObjectsV2 with a prefix nothing has: empty, not truncated, KeyCount 0', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'zzz/' }))
    expect(out.Contents).toBeUndefined()
    expect(out.KeyCount).toBe(0)
    expect(out.IsTruncated).toBe(false)
  })

  conformanceCase('list.empty-bucket', 'ListObjects v1 and v2 of an empty bucket: no contents, not truncated', async () => {
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: empty }))
    expect([v2.Contents, v2.KeyCount, v2.IsTruncated, v2.Name]).toEqual([undefined, 0, false, empty])
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: empty }))
    expect([v1.Contents, v1.IsTruncated, v1.Name]).toEqual([undefined, false, empty])
  })

  conformanceCase('list.v1-marker', 'ListObjects v1 max-keys and marker: pages resume after the marker, echoed as Marker', async () => {
    const seen: string[] = []
    let marker: string | undefined
    for (let i = 0; i < 20; i++) {
      const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 3, Marker: marker, Prefix: 'a' }))
      if (marker) expect(out.Marker).toBe(marker)
      const keys = (out.Contents ?? []).map((o) => o.Key!)
      expect(keys.length).toBeLessThanOrEqual(3)
      seen.push(...keys)
      if (!out.IsTruncated) break
      // Without a delimiter S3 may leave NextMarker out: the last key is the next marker.
      marker = out.NextMarker ?? keys[keys.length - 1]
    }
    expect(seen).toEqual(['a/1.txt', 'a/2.txt', 'a/3.txt', 'a/b/deep.txt'])
  })

  conformanceCase('list.v1-delimiter', 'ListObjects v1 delimiter: CommonPrefixes, and NextMarker when truncated', async () => {
    const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: 2 }))
    expect([...(out.CommonPrefixes ?? []).map((p) => p.Prefix), ...(out.Contents ?? []).map((o) => o.Key)]).toEqual(['a/', 'c/'])
    expect(out.IsTruncated).toBe(true)
    expect(out.NextMarker).toBe('c/')
    const rest = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', Marker: out.NextMarker }))
    expect([...(rest.CommonPrefixes ?? []).map((p) => p.Prefix)]).toEqual(['enc/'])
    expect(rest.Contents?.map((o) => o.Key)).toEqual(['root-1.txt', 'root-2.txt'])
    expect(rest.IsTruncated).toBe(false)
  })

  conformanceCase('list.v1-owner', 'ListObjects v1 always carries each object\'s Owner', async () => {
    const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'c/' }))
    expect(out.Contents?.[0]?.Owner?.ID).toBeTruthy()
  })

  conformanceCase('list.v2-fetch-owner', 'ListObjectsV2: Owner only with fetch-owner=true', async () => {
    const without = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'c/' }))
    expect(without.Contents?.[0]?.Owner).toBeUndefined()
    const withOwner = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'c/', FetchOwner: true }))
    expect(withOwner.Contents?.[0]?.Owner?.ID).toBeTruthy()
  })

  for (const version of ['v1', 'v2']) {
    conformanceCase(`list.${version}-encoding-type-url`, `ListObjects ${version} encoding-type=url: EncodingType echoed, keys and prefixes URL-encoded`, async () => {
      const query: Record<string, string> = { 'encoding-type': 'url', prefix: 'enc/', delimiter: '/' }
      if (version === 'v2') query['list-type'] = '2'
      const res = await signedRequest({ method: 'GET', bucket, query })
      expect(res.status).toBe(200)
      expect(xmlValue(res.text, 'EncodingType')).toBe('url')
      const keys = xmlValues(res.text, 'Key')
      // The encoded form must decode back to exactly the stored keys (a space may come as %20 or +).
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, '%20'))
      expect(keys.map(decode).sort()).toEqual([...ENCODED_KEYS].sort())
      for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9\-_.~%/+*!'()]*$/)
      expect(decode(xmlValue(res.text, 'Prefix')!)).toBe('enc/')
    })
  }

  conformanceCase('list.control-character-key', 'a key with a control character (0x01): listed exactly with encoding-type=url, never a 5xx without', async () => {
    const own = await freshBucket('list-ctl')
    const key = 'ctl/a\u0001b'
    await put(s3, own, key, 'x')
    for (const version of ['1', '2']) {
      const query: Record<string, string> = { 'encoding-type': 'url' }
      if (version === '2') query['list-type'] = '2'
      const res = await signedRequest({ method: 'GET', bucket: own, query })
      expect(res.status).toBe(200)
      expect(xmlValues(res.text, 'Key').map((k) => decodeURIComponent(k))).toEqual([key])
    }
    // XML 1.0 cannot carry 0x01, so S3 documents encoding-type=url for such keys; a plain listing
    // may refuse or escape, but a server error is never a right answer to a valid request.
    const plain = await signedRequest({ method: 'GET', bucket: own, query: { 'list-type': '2' } })
    expect(plain.status, plain.text.slice(0, 200)).toBeLessThan(500)
  })

  conformanceCase('list.v2-max-keys-zero', 'ListObjectsV2 max-keys=0: no contents, KeyCount 0', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 0 }))
    expect(out.Contents).toBeUndefined()
    expect(out.KeyCount).toBe(0)
  })

  conformanceCase('list.v2-invalid-token', 'ListObjectsV2 with a made-up continuation-token: 400 InvalidArgument', async () => {
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: 'not-a-token' })), 'InvalidArgument', 400)
  })
})
