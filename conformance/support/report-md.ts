/**
 * @module conformance/support/report-md
 * conformance/REPORT.md, the kept record of a CI conformance run: when, which gateway commit, which
 * client and server versions, and per target the passed / failed / expected-failure counts per area
 * (cases) and per client (the client matrix), with every expected failure and its reason.
 */
import type { AreaResult, Summary } from './reporter.js'

export interface TargetRun {
  label: string
  endpoint: string
  ok: boolean
  summary?: Summary
  exitCode: number
  durationMs: number
  note?: string
}

export interface ReportInput {
  date: Date
  commit: string
  versions: Record<string, string>
  runs: TargetRun[]
  durationMs: number
  /** A run limited by --only / --only-targets. */
  partial: boolean
}

const cell = (a: AreaResult | undefined) => (a ? `${a.pass} / ${a.fail} / ${a.expectedFail}` : '–')
const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

function totals(summary: Summary | undefined): { pass: number; fail: number; expectedFail: number } {
  const t = { pass: 0, fail: 0, expectedFail: 0 }
  for (const a of Object.values(summary?.areas ?? {})) {
    t.pass += a.pass
    t.fail += a.fail
    t.expectedFail += a.expectedFail
  }
  return t
}

/** The area names of a group, in order, over every target. */
function areaNames(runs: TargetRun[], clients: boolean): string[] {
  const names = new Set<string>()
  for (const r of runs) for (const [name, a] of Object.entries(r.summary?.areas ?? {})) {
    if (a.skip === a.cases.length) continue
    if (name.startsWith('client.') === clients) names.add(name)
  }
  return [...names].sort()
}

function table(title: string, names: string[], runs: TargetRun[]): string[] {
  if (names.length === 0) return []
  const lines = [`### ${title}`, '', `| ${title === 'Cases by area' ? 'area' : 'client'} | ${runs.map((r) => r.label).join(' | ')} |`]
  lines.push(`|---|${runs.map(() => '---').join('|')}|`)
  for (const name of names) lines.push(`| ${esc(name)} | ${runs.map((r) => cell(r.summary?.areas[name])).join(' | ')} |`)
  return [...lines, '']
}

export function renderReport(input: ReportInput): string {
  const { runs } = input
  const out: string[] = [
    '# s3veil conformance report',
    '',
    'Written by `npm run conformance:ci` (conformance/ci.ts); see README, "Conformance". Counts are',
    '**passed / failed / expected failures** (listed in conformance/expected-failures.txt with a reason).',
    '',
    `- Date: ${input.date.toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- Gateway commit: ${input.commit}`,
    `- Run time: ${(input.durationMs / 1000).toFixed(0)} s${input.partial ? ' (a partial run: --only / --only-targets)' : ''}`,
    `- Result: ${runs.every((r) => r.ok) ? 'every case had its expected outcome' : '**unexpected results** (see below)'}`,
    '',
    '## Versions',
    '',
    ...Object.entries(input.versions).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '## Targets',
    '',
    '| target | passed | failed | expected failures | time | result |',
    '|---|---|---|---|---|---|',
  ]
  for (const r of runs) {
    const t = totals(r.summary)
    const result = r.ok ? 'ok' : `**FAILED**${r.note ? ': ' + esc(r.note) : ''}`
    out.push(`| ${r.label} | ${t.pass} | ${t.fail} | ${t.expectedFail} | ${(r.durationMs / 1000).toFixed(0)} s | ${result} |`)
  }
  out.push('', 'gateway-* targets run s3veil (a fresh process each, encrypting) on its disk store or in front of a Ceph RGW,',
    'over HTTP or HTTPS (a CA made for the run); rgw-direct is Ceph RGW itself, the reference the gateway is compared with.', '')
  out.push(...table('Cases by area', areaNames(runs, false), runs))
  out.push(...table('Real clients', areaNames(runs, true), runs))
  const failures: string[] = []
  const expected: string[] = []
  for (const r of runs) {
    for (const e of r.summary?.errors ?? []) failures.push(`- ${r.label}: ${esc(e)}`)
    for (const a of Object.values(r.summary?.areas ?? {})) {
      for (const c of a.cases) {
        if (c.state === 'fail') failures.push(`- ${r.label}: \`${c.id}\`: ${esc(c.reason ?? '')}`)
        if (c.state === 'expected-fail') expected.push(`- ${r.label}: \`${c.id}\`: ${esc(c.reason ?? '')}`)
      }
    }
  }
  if (failures.length) out.push('## Unexpected results', '', ...failures, '')
  out.push('## Expected failures', '', ...(expected.length ? expected : ['none']), '')
  return out.join('\n')
}
