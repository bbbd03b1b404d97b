/**
 * @module s3/xml
 * S3 XML bodies: one builder for responses and one strict, size-bounded parser for the request
 * bodies we accept (Delete, CreateBucketConfiguration, CompleteMultipartUpload).
 * xml2js's sax parser does not resolve external entities, so XXE is not a concern here.
 */
import { Builder, Parser } from 'xml2js'
import { S3Error } from './errors.js'

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/'

/** A tree for the builder: element → text, nested element, or repeated elements (array). */
export type XmlValue = string | number | boolean | XmlNode | XmlNode[] | string[] | undefined
export interface XmlNode {
  [element: string]: XmlValue
}

const builder = new Builder({
  xmldec: { version: '1.0', encoding: 'UTF-8' },
  renderOpts: { pretty: false },
})

/** Renders `<root xmlns="…">…</root>`; undefined children are left out. */
export function renderXml(root: string, body: XmlNode, namespaced = true): string {
  const tree = namespaced ? { $: { xmlns: S3_XMLNS }, ...prune(body) } : prune(body)
  return builder.buildObject({ [root]: tree })
}

function prune(node: XmlNode): XmlNode {
  const out: XmlNode = {}
  for (const [name, value] of Object.entries(node)) {
    if (value === undefined) continue
    if (Array.isArray(value)) out[name] = value.map((v) => (typeof v === 'object' ? prune(v) : v)) as XmlNode[]
    else if (typeof value === 'object') out[name] = prune(value)
    else out[name] = value
  }
  return out
}

export type ParsedXml = { [element: string]: (string | ParsedXml)[] }

/**
 * Parses a request body whose root element must be `root`; anything else is MalformedXML.
 * Element values are arrays (xml2js explicitArray), text is kept verbatim (keys may start or end with spaces), namespaces are ignored.
 */
export async function parseXml(text: string, root: string): Promise<ParsedXml> {
  const parser = new Parser({ explicitArray: true, explicitRoot: true, trim: false, strict: true, tagNameProcessors: [stripPrefix] })
  let doc: Record<string, unknown>
  try {
    doc = (await parser.parseStringPromise(text)) as Record<string, unknown>
  } catch {
    throw new S3Error('MalformedXML')
  }
  const value = doc?.[root]
  if (value === undefined || value === null) throw new S3Error('MalformedXML')
  if (typeof value === 'string') return {}
  const { $: _attributes, ...children } = value as ParsedXml & { $?: unknown }
  return children
}

function stripPrefix(name: string): string {
  const colon = name.indexOf(':')
  return colon === -1 ? name : name.slice(colon + 1)
}

/** The text of the first `name` child, or undefined. */
export function childText(node: ParsedXml, name: string): string | undefined {
  const value = node[name]?.[0]
  if (value === undefined) return undefined
  if (typeof value === 'string') return value
  return typeof value._ === 'string' ? (value._ as unknown as string) : ''
}

/** The element children named `name` (never text). */
export function children(node: ParsedXml, name: string): ParsedXml[] {
  return (node[name] ?? []).map((v) => (typeof v === 'string' ? ({ _: [v] } as ParsedXml) : v))
}
