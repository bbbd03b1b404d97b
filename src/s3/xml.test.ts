import { describe, expect, it } from 'vitest'
import { Parser } from 'xml2js'
import { renderXml } from './xml.js'

const keyOf = async (xml: string) =>
  ((await new Parser().parseStringPromise(xml.replace(/&#x([0-9A-F]+);/g, (_, h: string) => `[${h}]`))) as { R: { Key: string[] } }).R.Key[0]

describe('renderXml', () => {
  it('writes characters XML 1.0 cannot carry as character references instead of failing', async () => {
    const xml = renderXml('R', { Key: 'a\u0001b\u001f<&>\uE000\uE000x\uFFFF' }, false)
    expect(xml).toContain('<Key>a&#x1;b&#x1F;&lt;&amp;&gt;&#xE000;&#xE000;x&#xFFFF;</Key>')
    expect(await keyOf(xml)).toBe('a[1]b[1F]<&>[E000][E000]x[FFFF]')
  })

  it('keeps valid text, pairs of surrogates and the ordinary whitespace characters as they are', () => {
    const text = 'tab\there\nnew 🙂 ü'
    expect(renderXml('R', { Key: text }, false)).toBe(`<?xml version="1.0" encoding="UTF-8"?><R><Key>${text}</Key></R>`)
    expect(renderXml('R', { Key: 'lone \uD800 x' }, false)).toContain('<Key>lone &#xD800; x</Key>')
  })

  it('applies to repeated elements and nested nodes too', () => {
    const xml = renderXml('R', { C: [{ Key: '\u0002' }, { Key: 'ok' }], P: ['\u0003'] }, false)
    expect(xml).toContain('<C><Key>&#x2;</Key></C><C><Key>ok</Key></C><P>&#x3;</P>')
  })
})
