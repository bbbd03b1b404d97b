/**
 * @module conformance/cases/delete
 * DeleteObjects (multi-object delete): verbose and quiet results, missing keys reported as deleted,
 * the integrity header it requires, and malformed requests.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
 */
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect } from 'vitest'
import { area, conformanceCase } from '../support/cases.js'
import { errorCode, signedRequest } from '../support/http.js'
import { md5Base64, put } from '../support/s3.js'
import { freshBucket, s3Client } from '../support/target.js'

const s3 = s3Client()
let bucket: string
beforeAll(async () => {
  bucket = await freshBucket('delete')
})
afterAll(() => s3.destroy())

async function keysUnder(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (out.Contents ?? []).map((o) => o.Key!)
}

function deleteXml(keys: string[], quiet = false): Buffer {
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      (quiet ? '<Quiet>true</Quiet>' : '') +
      keys.map((k) => `<Object><Key>${escape(k)}</Key></Object>`).join('') +
      '</Delete>'
  )
}

area('delete', () => {
  conformanceCase('delete.multi-verbose', 'DeleteObjects (verbose): existing and missing keys are both listed as Deleted', async () => {
    await put(s3, bucket, 'v/a.txt', 'a')
    await put(s3, bucket, 'v/b c.txt', 'b')
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'v/a.txt' }, { Key: 'v/b c.txt' }, { Key: 'v/missing' }] } })
    )
    expect(out.Deleted?.map((d) => d.Key).sort()).toEqual(['v/a.txt', 'v/b c.txt', 'v/missing'])
    expect(out.Errors ?? []).toEqual([])
    expect(await keysUnder('v/')).toEqual([])
  })

  conformanceCase('delete.multi-quiet', 'DeleteObjects Quiet: a fully successful delete answers an empty DeleteResult', async () => {
    await put(s3, bucket, 'q/a.txt', 'a')
    const body = deleteXml(['q/a.txt', 'q/missing'], true)
    const res = await signedRequest({ method: 'POST', bucket, query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } })
    expect(res.status).toBe(200)
    expect(res.text).toMatch(/<DeleteResult[^>]*(\/>|>\s*<\/DeleteResult>)/)
    expect(res.text).not.toMatch(/<Deleted>|<Error>/)
    expect(await keysUnder('q/')).toEqual([])
  })

  conformanceCase('delete.multi-special-keys', 'DeleteObjects with XML-escaped and unicode keys deletes exactly those keys', async () => {
    const keys = ['s/a&b<c>.txt', 's/ünï.txt', 's/sp ace+plus%.txt']
    for (const k of keys) await put(s3, bucket, k, k)
    await put(s3, bucket, 's/keep.txt', 'keep')
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }))
    expect(out.Deleted?.map((d) => d.Key).sort()).toEqual([...keys].sort())
    expect(await keysUnder('s/')).toEqual(['s/keep.txt'])
  })

  conformanceCase('delete.multi-malformed-xml', 'DeleteObjects with a body that is not the Delete document: 400 MalformedXML', async () => {
    const body = Buffer.from('<Delete><Object><Key>x</Key></Object>')
    const res = await signedRequest({ method: 'POST', bucket, query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'MalformedXML' })
  })

  conformanceCase('delete.multi-too-many-keys', 'DeleteObjects with 1001 keys: 400 MalformedXML (at most 1000 per request)', async () => {
    const body = deleteXml(Array.from({ length: 1001 }, (_, i) => `many/${i}`))
    const res = await signedRequest({ method: 'POST', bucket, query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'MalformedXML' })
  })

  conformanceCase('delete.multi-bad-md5', 'DeleteObjects whose Content-MD5 does not match the body: 400 BadDigest, nothing deleted', async () => {
    await put(s3, bucket, 'md5/a.txt', 'a')
    const body = deleteXml(['md5/a.txt'])
    const res = await signedRequest({ method: 'POST', bucket, query: { delete: '' }, body, headers: { 'content-md5': md5Base64('other') } })
    expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'BadDigest' })
    expect(await keysUnder('md5/')).toEqual(['md5/a.txt'])
  })
})
