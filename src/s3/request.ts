/**
 * @module s3/request
 * Where a request points: bucket and key from a path-style (`/bucket/key`) or virtual-hosted
 * (`bucket.s3.example.com[:port]/key`) request. Pure functions; the raw request target comes from
 * the runtime adapter because URL parsers normalize `..` segments, which are legal in S3 keys.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
 */
import { S3Error } from './errors.js'

export interface RawTarget {
  /** The path as sent, still percent-encoded. */
  rawPath: string
  /** The query as sent, without '?'. */
  rawQuery: string
}

export interface S3Location {
  bucket?: string
  key?: string
  style: 'path' | 'virtual'
}

/** Splits a request target (`/path?query`, or an absolute URL) into raw path and query. */
export function splitTarget(target: string): RawTarget {
  let rest = target
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(rest)
  if (scheme) rest = rest.slice(scheme[0].length) || '/'
  const hash = rest.indexOf('#')
  if (hash !== -1) rest = rest.slice(0, hash)
  const q = rest.indexOf('?')
  return q === -1 ? { rawPath: rest, rawQuery: '' } : { rawPath: rest.slice(0, q), rawQuery: rest.slice(q + 1) }
}

/** Percent-decodes a path (a '+' stays a '+'); malformed escapes or UTF-8 are InvalidURI. */
export function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath)
  } catch {
    throw new S3Error('InvalidURI')
  }
}

/** The host name of a Host header: lowercase, without port (IPv6 brackets kept). */
export function hostName(host: string | undefined | null): string {
  if (!host) return ''
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1)
  const colon = h.lastIndexOf(':')
  return colon === -1 ? h : h.slice(0, colon)
}

/**
 * Bucket and key from a decoded path and Host. A host that ends in `.<domain>` for one of the
 * configured virtual-host domains names the bucket; the port never takes part in the match.
 */
export function locate(decodedPath: string, host: string | undefined | null, virtualHostDomains: readonly string[]): S3Location {
  const name = hostName(host)
  for (const domain of virtualHostDomains) {
    const suffix = '.' + domain.toLowerCase()
    if (name.endsWith(suffix) && name.length > suffix.length) {
      const key = decodedPath.replace(/^\//, '')
      return { bucket: name.slice(0, -suffix.length), key: key === '' ? undefined : key, style: 'virtual' }
    }
  }
  const path = decodedPath.replace(/^\//, '')
  if (path === '') return { style: 'path' }
  const slash = path.indexOf('/')
  if (slash === -1) return { bucket: path, style: 'path' }
  const key = path.slice(slash + 1)
  return { bucket: path.slice(0, slash), key: key === '' ? undefined : key, style: 'path' }
}
