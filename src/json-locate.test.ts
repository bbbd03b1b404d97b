/** @module json-locate.test */
import { describe, expect, it } from 'vitest'
import { lineOfPath, syntaxErrorPosition } from './json-locate.js'

const TEXT = `{
  "keyring": { "keys": [ { "id": "k", "key": "x" } ] },
  "policies": {
    "read": { "Statement": [
      { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" },
      {
        "Effect": "Alow", "Action": ["s3:GetObject",
          "s3:PutObject"], "Resource": "*" }
    ] }
  },
  "groups": { "cn=eng,ou=groups,dc=x": { "policies": ["nope"] } },
  "text": "a \\"quoted\\" [value], {not: structure}\\u0041"
}
`

describe('lineOfPath', () => {
  it.each([
    ['keyring', 2],
    ['keyring.keys[0].id', 2],
    ['policies.read.Statement[0].Effect', 5],
    ['policies.read.Statement[1]', 6],
    ['policies.read.Statement[1].Effect', 7],
    ['policies.read.Statement[1].Action[1]', 8],
    ['groups.cn=eng,ou=groups,dc=x.policies[0]', 11],
    ['text', 12],
  ])('finds %s on line %i', (path, line) => {
    expect(lineOfPath(TEXT, path)).toBe(line)
  })

  it('gives up on paths that are absent, ambiguous or in a text that does not parse', () => {
    expect(lineOfPath(TEXT, 'policies.read.Statement[1].Sid')).toBeUndefined()
    expect(lineOfPath(TEXT, '(top level)')).toBeUndefined()
    expect(lineOfPath('{"a": 1,\n"a": 2}', 'a')).toBeUndefined()
    expect(lineOfPath('{"a.b": 1,\n"a": {"b": 2}}', 'a.b')).toBeUndefined()
    expect(lineOfPath('{"a": 1,}', 'a')).toBeUndefined()
  })
})

describe('syntaxErrorPosition', () => {
  const at = (text: string) => {
    try {
      JSON.parse(text)
    } catch (err) {
      return syntaxErrorPosition(text, err)
    }
    throw new Error('parsed')
  }

  it('converts the offset to line and column, with or without a position from JSON.parse', () => {
    expect(at('{\n  "a": 1,\n}\n')).toEqual({ line: 3, column: 1 })
    expect(at('{\n  "a": secret\n}')).toEqual({ line: 2, column: 8 })
    expect(at('{\n  "a": "x"\n  "b": 2\n}')).toEqual({ line: 3, column: 3 })
    expect(at('{"a": [1, 2')).toEqual({ line: 1, column: 12 })
    expect(at('{"a": "tab\there"}')).toEqual({ line: 1, column: 11 })
  })
})
