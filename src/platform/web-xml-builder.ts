/**
 * @module platform/web-xml-builder
 * @aws-sdk/xml-builder for the Worker bundle (wrangler.toml [alias]). Bundled for the web, the package
 * swaps in a parser built on DOMParser, which workerd lacks; its portable pure-JS parser (the one
 * Node uses) works everywhere, so the bundle takes that one.
 */
// @ts-expect-error -- a file of the package, not one of its typed entry points
export { XmlNode } from '../../node_modules/@aws-sdk/xml-builder/dist-es/XmlNode.js'
// @ts-expect-error -- as above
export { XmlText } from '../../node_modules/@aws-sdk/xml-builder/dist-es/XmlText.js'
// @ts-expect-error -- as above
export { parseXML } from '../../node_modules/@aws-sdk/xml-builder/dist-es/xml-parser.js'
