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

/** Characters XML 1.0 cannot carry (keys may hold any of them). */
const NOT_XML_10 = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** Those, and the placeholder mark itself, which must never be ambiguous. */
const NEEDS_PLACEHOLDER = new RegExp(`${NOT_XML_10.source}|\uE000`, 'g')

/**
 * Renders `<root xmlns="…">…</root>`; undefined children are left out. A character XML 1.0 cannot
 * carry (say 0x01 in a key listed without encoding-type=url) is written as a character reference
 * (`&#x1;`), as S3 does, instead of failing the whole response. The builder would escape a reference
 * written into the text, so such characters travel as private-use placeholders and are swapped last.
 */
export function renderXml(root: string, body: XmlNode, namespaced = true): string {
  const placeholders = new Map<string, string>()
  const tree = namespaced ? { $: { xmlns: S3_XMLNS }, ...prune(body, placeholders) } : prune(body, placeholders)
  const xml = builder.buildObject({ [root]: tree })
  if (placeholders.size === 0) return xml
  return xml.replace(PLACEHOLDER, (p) => placeholders.get(p) ?? p)
}

const PLACEHOLDER = /\uE000[0-9a-f]{1,4}\uE001/g

function safeText(value: string, placeholders: Map<string, string>): string {
  if (!NOT_XML_10.test(value) && !value.includes('\uE000')) return value
  return value.replace(NEEDS_PLACEHOLDER, (c) => {
    const code = c.charCodeAt(0).toString(16)
    const placeholder = `\uE000${code}\uE001`
    placeholders.set(placeholder, `&#x${code.toUpperCase()};`)
    return placeholder
  })
}

function prune(node: XmlNode, placeholders: Map<string, string>): XmlNode {
  const out: XmlNode = {}
  const leaf = (v: string | number | boolean) => (typeof v === 'string' ? safeText(v, placeholders) : v)
  for (const [name, value] of Object.entries(node)) {
    if (value === undefined) continue
    if (Array.isArray(value)) out[name] = value.map((v) => (typeof v === 'object' ? prune(v, placeholders) : leaf(v))) as XmlNode[]
    else if (typeof value === 'object') out[name] = prune(value, placeholders)
    else out[name] = leaf(value)
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
