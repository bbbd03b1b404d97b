/**
 * @module bench/report
 * The shape of a benchmark report, its per-round aggregation and its printed table. Kept apart
 * from run.ts so the JSON written to disk and the table printed come from the same structure.
 */
import type { LogSummary } from './services.js'
import type { PhaseUsage } from './rss.js'

export type TargetId = 'a' | 'b' | 'c'
export type PhaseName = 'large PUT' | 'large GET' | 'small PUT' | 'small GET' | 'small DELETE'
export const PHASES: PhaseName[] = ['large PUT', 'large GET', 'small PUT', 'small GET', 'small DELETE']
export const TARGET_IDS: readonly TargetId[] = ['a', 'b', 'c']

export const unitOf = (phase: PhaseName) => (phase.startsWith('large') ? 'MiB/s' : 'ops/s')

/** One phase of one target in one round. */
export interface PhaseResult {
  round: number
  target: TargetId
  phase: PhaseName
  /** MiB/s for large phases, ops/s for small ones; null when the phase failed or was skipped. */
  rate: number | null
  seconds: number | null
  usage: PhaseUsage | null
  error?: string
}

/** A target's phase over all rounds: the median rate (robust to one disturbed round) and its range. */
export interface Cell {
  median: number | null
  min: number | null
  max: number | null
  /** Highest sampled RSS / kernel high-water mark of the watched gateway over all rounds, MiB. */
  peakRssMiB: number | null
  hwmMiB: number | null
  /** Median CPU seconds of the watched gateway per round. */
  cpuSeconds: number | null
  failures: number
}

export interface Report {
  date: string
  machine: { cores: number; cpuModel: string; memoryGiB: number; os: string; node: string; loadAtStart: number[] }
  settings: {
    sizeMiB: number
    largeBytes: number
    count: number
    smallSize: number
    concurrency: number
    upstream: 'rgw' | 'disk'
    rounds: number
    timeoutSeconds: number
  }
  upstream: string
  targets: Record<TargetId, string>
  /** Which gateway process the RSS/CPU figures of target a describe. */
  aWatched: 'gateway, idle' | 'baseline gateway'
  summary: Record<PhaseName, Record<TargetId, Cell> & { bOverA: number | null; cOverA: number | null }>
  phases: PhaseResult[]
  gatewayRss: { afterStartMiB: number | null; afterWarmupMiB: number | null; afterEachRoundMiB: (number | null)[] }
  gatewayLogs: Record<string, LogSummary & { file: string }>
  problems: string[]
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

function median(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const maxOf = (values: (number | null | undefined)[]) => {
  const known = values.filter((v): v is number => typeof v === 'number')
  return known.length ? Math.max(...known) : null
}

export function summarize(phases: PhaseResult[]): Report['summary'] {
  const summary = {} as Report['summary']
  for (const phase of PHASES) {
    const cells = {} as Record<TargetId, Cell>
    for (const id of TARGET_IDS) {
      const runs = phases.filter((p) => p.target === id && p.phase === phase)
      const rates = runs.flatMap((p) => (p.rate === null ? [] : [p.rate]))
      const cpu = runs.flatMap((p) => (typeof p.usage?.cpuSeconds === 'number' ? [p.usage.cpuSeconds] : []))
      const med = median(rates)
      const cpuMedian = median(cpu)
      cells[id] = {
        median: med === null ? null : round(med),
        min: rates.length ? Math.min(...rates) : null,
        max: rates.length ? Math.max(...rates) : null,
        peakRssMiB: maxOf(runs.map((p) => p.usage?.peakRssMiB)),
        hwmMiB: maxOf(runs.map((p) => p.usage?.hwmMiB)),
        cpuSeconds: cpuMedian === null ? null : round(cpuMedian, 2),
        failures: runs.filter((p) => p.error !== undefined).length,
      }
    }
    const ratio = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : round(x / y, 2))
    summary[phase] = { ...cells, bOverA: ratio(cells.b.median, cells.a.median), cOverA: ratio(cells.c.median, cells.a.median) }
  }
  return summary
}

const pad = (text: string, width: number) => text.padStart(width)
const padEnd = (text: string, width: number) => text.padEnd(width)
const num = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '-' : n.toFixed(digits))

export function formatReport(report: Report): string {
  const { settings: s, machine: m } = report
  const lines: string[] = []
  lines.push(`s3veil bench, ${report.date}`)
  lines.push(`machine:  ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.os}, node ${m.node}, load average at start ${m.loadAtStart.join(' ')}`)
  lines.push(`upstream: ${report.upstream}`)
  lines.push(
    `workload: large object ${s.sizeMiB} MiB (one streamed PutObject; GET drained, CRC-32 checked); ` +
      `${s.count} small objects of ${s.smallSize} B (GET compared), concurrency ${s.concurrency}; ` +
      `${s.rounds} round(s), target order rotated each round`
  )
  for (const id of TARGET_IDS) lines.push(`  ${id}: ${report.targets[id]}`)
  lines.push('')
  const many = s.rounds > 1
  lines.push(many ? 'throughput, median over rounds (min-max)' : 'throughput')
  const w = many ? 22 : 10
  lines.push(`${padEnd('', 20)}${pad('a', w)}${pad('b', w)}${pad('c', w)}${pad('b/a', 7)}${pad('c/a', 7)}`)
  for (const phase of PHASES) {
    const row = report.summary[phase]
    const cells = TARGET_IDS.map((id) => {
      const c = row[id]
      if (c.median === null) return pad('FAILED', w)
      const text = many ? `${num(c.median)} (${num(c.min, 0)}-${num(c.max, 0)})` : num(c.median)
      return pad(c.failures ? `${text}!` : text, w)
    })
    lines.push(`${padEnd(`${phase} ${unitOf(phase)}`, 20)}${cells.join('')}${pad(num(row.bOverA, 2), 7)}${pad(num(row.cOverA, 2), 7)}`)
  }
  if (TARGET_IDS.some((id) => PHASES.some((phase) => report.summary[phase][id].failures > 0))) {
    lines.push('  (! or FAILED: some rounds failed, see problems below)')
  }
  lines.push('')
  lines.push(`gateway process per phase: peak RSS MiB (100 ms samples) / kernel VmHWM MiB / CPU s (median per round)`)
  lines.push(`${padEnd('', 14)}${pad(`a (${report.aWatched})`, 26)}${pad('b', 24)}${pad('c', 24)}`)
  for (const phase of PHASES) {
    const cells = TARGET_IDS.map((id, i) => {
      const c = report.summary[phase][id]
      return pad(`${num(c.peakRssMiB)} / ${num(c.hwmMiB)} / ${num(c.cpuSeconds, 2)}`, i === 0 ? 26 : 24)
    })
    lines.push(`${padEnd(phase, 14)}${cells.join('')}`)
  }
  const g = report.gatewayRss
  lines.push(
    `gateway RSS MiB: ${num(g.afterStartMiB)} after start, ${num(g.afterWarmupMiB)} after warm-up, ` +
      `${g.afterEachRoundMiB.map((v) => num(v)).join(', ')} after each round`
  )
  for (const [name, log] of Object.entries(report.gatewayLogs)) {
    const failed = Object.entries(log.failedRequests).map(([k, v]) => `${v} x ${k}`)
    lines.push(
      `${name} log: ${log.lines} lines, ${log.errors} errors, ${log.warnings} warnings, ` +
        `failed requests: ${failed.length ? failed.join(', ') : 'none'} (${log.file})`
    )
    for (const sample of log.samples) lines.push(`  ${sample}`)
    for (const block of log.otherOutput.slice(0, 5)) lines.push(`  non-log output (${block.lines} lines): ${block.first}`)
  }
  if (report.problems.length > 0) {
    lines.push('problems:')
    for (const p of report.problems) lines.push(`  - ${p}`)
  }
  return lines.join('\n')
}
