/**
 * @module json-locate
 * Finds where things stand in a JSON text, so startup errors can name `file:line` rather than only a
 * JSON path (pure; no file access). A small scanner of its own because JSON.parse keeps no positions,
 * and on Node 20 some of its syntax errors ("Unexpected token") carry no position either.
 * Paths are spelled as config.ts spells them: `a.b[0].c`.
 */

export interface TextPosition {
  /** 1-based. */
  line: number
  /** 1-based, in UTF-16 code units. */
  column: number
}

class ScanError extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`)
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const STRING_ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y

/**
 * Offsets of every value's first character, by path. A path spelled the same by two places (a
 * duplicate key, or a key containing `.` or `[`) maps to undefined: it cannot be located exactly.
 */
function scan(text: string): Map<string, number | undefined> {
  const where = new Map<string, number | undefined>()
  let i = 0

  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const expect = (ch: string) => {
    if (text[i] !== ch) throw new ScanError(i)
    i++
  }
  const string = (): string => {
    const start = i
    expect('"')
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        STRING_ESCAPE.lastIndex = i
        if (!STRING_ESCAPE.test(text)) throw new ScanError(i)
        i = STRING_ESCAPE.lastIndex
      } else if (text.charCodeAt(i) < 0x20) {
        throw new ScanError(i)
      } else {
        i++
      }
    }
    expect('"')
    return JSON.parse(text.slice(start, i)) as string
  }
  const value = (path: string) => {
    ws()
    where.set(path, where.has(path) ? undefined : i)
    const ch = text[i]
    if (ch === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        const key = string()
        ws()
        expect(':')
        value(path === '' ? key : `${path}.${key}`)
        ws()
        if (text[i] === '}') return void i++
        expect(',')
      }
    }
    if (ch === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`)
        ws()
        if (text[i] === ']') return void i++
        expect(',')
      }
    }
    if (ch === '"') return void string()
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) return void (i += literal.length)
    }
    NUMBER.lastIndex = i
    if (!NUMBER.test(text)) throw new ScanError(i)
    i = NUMBER.lastIndex
  }

  value('')
  ws()
  if (i < text.length) throw new ScanError(i)
  return where
}

export function positionOf(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset)
  const lineStart = before.lastIndexOf('\n') + 1
  return { line: before.split('\n').length, column: offset - lineStart + 1 }
}

/** The line where the value at `path` starts, or undefined when the text does not parse or the path is not exactly there. */
export function lineOfPath(text: string, path: string): number | undefined {
  let offset: number | undefined
  try {
    offset = scan(text).get(path)
  } catch (err) {
    if (err instanceof ScanError) return undefined
    throw err
  }
  return offset === undefined ? undefined : positionOf(text, offset).line
}

/**
 * JSON.parse, with a syntax error reported as `where:line:column: config: not valid JSON (gist)`.
 * The parser's own message quotes the text around the error, and a config may hold inline secrets:
 * only its gist is kept, and no `cause`.
 */
export function parseConfigJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const at = syntaxErrorPosition(text, err)
    const gist = err instanceof Error ? err.message.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '') : ''
    throw new Error(`${at ? `${where}:${at.line}:${at.column}` : where}: config: not valid JSON${gist ? ` (${gist})` : ''}`)
  }
}

/**
 * Where a text that JSON.parse rejected goes wrong: the position in the SyntaxError's message when
 * it has one (`at position N`), otherwise where the scanner stops.
 */
export function syntaxErrorPosition(text: string, err: unknown): TextPosition | undefined {
  const given = err instanceof Error ? /at position (\d+)/.exec(err.message) : null
  if (given) return positionOf(text, Math.min(Number(given[1]), text.length))
  try {
    scan(text)
  } catch (scanError) {
    if (scanError instanceof ScanError) return positionOf(text, scanError.offset)
    throw scanError
  }
  return undefined
}
