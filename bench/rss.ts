/**
 * @module bench/rss
 * Watches one process through /proc (Linux): resident set size sampled every 100 ms, plus the
 * kernel's own high-water mark and the CPU time used, per measured phase.
 *
 * The 100 ms samples are what the brief asks for, but a timer can miss a short spike; the kernel's
 * VmHWM cannot, so each phase also resets it (writing 5 to /proc/PID/clear_refs, allowed for our own
 * child) and reads it at the end. Where that reset is refused, the HWM is reported as unknown.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'

export interface PhaseUsage {
  /** Highest VmRSS seen by the 100 ms sampler, MiB. */
  peakRssMiB: number | null
  /** VmHWM since the phase began (kernel-tracked), MiB. */
  hwmMiB: number | null
  /** user + system CPU time of the process during the phase, seconds. */
  cpuSeconds: number | null
  samples: number
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match ? Number(match[1]) : null
  } catch {
    return null
  }
}

/** utime + stime in seconds; fields 14 and 15, counted after the parenthesised command name. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}

function resetHwm(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

const mib = (kib: number | null) => (kib === null ? null : Math.round((kib / 1024) * 10) / 10)

/** Current RSS in MiB, or null when /proc cannot tell (not Linux, process gone). */
export function currentRssMiB(pid: number): number | null {
  return mib(statusKiB(pid, 'VmRSS'))
}

/** Starts watching `pid` for one phase; `end()` stops the sampler and reports the phase. */
export function watchPhase(pid: number): { end(): PhaseUsage } {
  const hwmReset = resetHwm(pid)
  const cpuAtStart = cpuSeconds(pid)
  let peak: number | null = null
  let samples = 0
  const sample = () => {
    const rss = statusKiB(pid, 'VmRSS')
    if (rss === null) return
    samples++
    if (peak === null || rss > peak) peak = rss
  }
  sample()
  const timer = setInterval(sample, 100)
  return {
    end() {
      clearInterval(timer)
      sample()
      const cpuAtEnd = cpuSeconds(pid)
      return {
        peakRssMiB: mib(peak),
        hwmMiB: hwmReset ? mib(statusKiB(pid, 'VmHWM')) : null,
        cpuSeconds: cpuAtStart === null || cpuAtEnd === null ? null : Math.round((cpuAtEnd - cpuAtStart) * 100) / 100,
        samples,
      }
    },
  }
}
