/**
 * The conformance runner's own behaviour (conformance/run.ts and its expected-failures list), apart
 * from the cases: a broken setup fails fast with one line and exit 2, and the list's parsing, globs and
 * stale-entry check.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { globMatches, parseExpectedFailures, staleEntries } from '../../conformance/support/expected.js'
import { REPO_ROOT } from '../helpers/gateway.js'
import { freePort } from '../helpers/rgw.js'

function conformance(args: string[]): Promise<{ code: number; output: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve) => {
    const tsx = join(REPO_ROOT, 'node_modules/.bin/tsx')
    execFile(tsx, [join(REPO_ROOT, 'conformance/run.ts'), ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, output: stdout + stderr, ms: Date.now() - started })
    })
  })
}

describe('npm run conformance: setup errors', () => {
  it('an endpoint nobody listens on: one line naming it, exit 2, in seconds', async () => {
    const port = await freePort()
    const run = await conformance(['--endpoint', `http://127.0.0.1:${port}`, '--access-key', 'AK', '--secret-key', 'SK'])
    expect(run.code).toBe(2)
    expect(run.output).toContain(`http://127.0.0.1:${port} did not answer: ECONNREFUSED`)
    expect(run.output).not.toContain('SK')
    expect(run.ms).toBeLessThan(20_000)
  })

  it('an unknown --only area, a URL without a scheme and a missing --ca-bundle are usage errors (exit 2)', async () => {
    const area = await conformance(['--only', 'objects'])
    expect([area.code, area.output]).toEqual([2, expect.stringContaining('unknown area "objects"')])
    const url = await conformance(['--endpoint', 'localhost:9000', '--access-key', 'AK', '--secret-key', 'SK'])
    expect([url.code, url.output]).toEqual([2, expect.stringContaining('"localhost:9000" is not an http:// or https:// URL')])
    const ca = await conformance(['--endpoint', 'https://127.0.0.1:1', '--access-key', 'AK', '--secret-key', 'SK', '--ca-bundle', '/nonexistent/ca.pem'])
    expect([ca.code, ca.output]).toEqual([2, expect.stringContaining('--ca-bundle /nonexistent/ca.pem: ENOENT')])
  })
})

describe('the expected-failures list', () => {
  const text = ['# comment', '', 'gateway-*  bh-27.single-put-etag-md5  opaque ETags', 'rgw*  sigv4.*.crc32  no flexible checksums  # trailing note'].join('\n')

  it('parses label glob, case id glob and reason; comments and blank lines are ignored', () => {
    expect(parseExpectedFailures(text, 'list.txt')).toEqual([
      { labelGlob: 'gateway-*', id: 'bh-27.single-put-etag-md5', reason: 'opaque ETags', line: 3 },
      { labelGlob: 'rgw*', id: 'sigv4.*.crc32', reason: 'no flexible checksums', line: 4 },
    ])
  })

  it('names the file and line of an entry without a reason', () => {
    expect(() => parseExpectedFailures('gateway-* object.put', '/tmp/mine.txt')).toThrow('/tmp/mine.txt:1: want')
  })

  it('globs: * any run, ? one character, everything else literal', () => {
    expect(globMatches('rgw*', 'rgw-direct')).toBe(true)
    expect(globMatches('rgw*', 'gateway-rgw-http')).toBe(false)
    expect(globMatches('sigv4.*.crc32', 'sigv4.unsigned-payload.crc32')).toBe(true)
    expect(globMatches('sigv4.*.crc32', 'sigv4.unsigned-payload.crc32c')).toBe(false)
    expect(globMatches('bh-0?.x', 'bh-07.x')).toBe(true)
    expect(globMatches('a.b', 'aXb')).toBe(false)
  })

  it('an entry that matches no case is stale', () => {
    const list = parseExpectedFailures(`${text}\ngateway-*  object.no-such-case  a typo`, 'list.txt')
    const stale = staleEntries(list, ['bh-27.single-put-etag-md5', 'sigv4.signed-payload.crc32', 'object.put-get-empty'])
    expect(stale.map((e) => [e.id, e.line])).toEqual([['object.no-such-case', 5]])
  })
})
