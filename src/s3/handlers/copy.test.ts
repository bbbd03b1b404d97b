/** @module s3/handlers/copy.test — parsing x-amz-copy-source and x-amz-copy-source-range. */
import { describe, expect, it } from 'vitest'
import { S3Error } from '../errors.js'
import { parseCopySource, parseCopySourceRange } from './copy.js'

function s3Error(fn: () => unknown): S3Error {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error)
    return err as S3Error
  }
  throw new Error('expected an S3Error')
}

describe('parseCopySource', () => {
  it('URL-decodes bucket and key, with or without the leading slash; a plus stays a plus', () => {
    expect(parseCopySource('/bkt/a%20b/c.txt')).toEqual({ bucket: 'bkt', key: 'a b/c.txt' })
    expect(parseCopySource('bkt/%C3%BC+1%2B2')).toEqual({ bucket: 'bkt', key: 'ü+1+2' })
    expect(parseCopySource('bkt/k?versionId=null')).toEqual({ bucket: 'bkt', key: 'k' })
    expect(parseCopySource('bkt/dir%3Fq')).toEqual({ bucket: 'bkt', key: 'dir?q' })
  })

  it('refuses a missing key or bucket, bad encoding, versions and invalid names', () => {
    for (const bad of ['bkt', 'bkt/', '/bkt', '/', '', 'bkt/%E0%A4%A', 'bkt/k?versionId=abc']) {
      expect(s3Error(() => parseCopySource(bad)).code, bad).toBe('InvalidArgument')
    }
    expect(s3Error(() => parseCopySource('Bad_Bucket/k')).code).toBe('InvalidBucketName')
  })
})

describe('parseCopySourceRange', () => {
  it('takes bytes=first-last within the source', () => {
    expect(parseCopySourceRange('bytes=0-9', 10)).toEqual({ start: 0, end: 9 })
    expect(parseCopySourceRange('bytes=5-5', 10)).toEqual({ start: 5, end: 5 })
  })

  it('refuses other forms and ranges past the end', () => {
    for (const bad of ['bytes=5-', 'bytes=-5', 'bytes=9-1', '5-9', 'bytes=0-1,3-4']) {
      expect(s3Error(() => parseCopySourceRange(bad, 10)).code, bad).toBe('InvalidArgument')
    }
    expect(s3Error(() => parseCopySourceRange('bytes=0-10', 10)).code).toBe('InvalidRange')
  })
})
