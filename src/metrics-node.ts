/**
 * @module metrics-node
 * Prometheus metrics for the Node entry (prom-client), fed one audit record per request. Labels are
 * the operation, HTTP status, S3 error code and failure reason only: never bucket names, keys, users
 * or anything secret, so the label sets stay small and the page can be shown to any scraper.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { AuditRecord, Metrics } from './audit.js'

/** S3 has some 25 operations here, STS one: room to spare, a bound all the same. */
const MAX_OPERATIONS = 64

export function createNodeMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 's3veil_' })
  const requests = new Counter({
    name: 's3veil_requests_total',
    help: 'Requests answered, by S3 operation, HTTP status and S3 error code.',
    labelNames: ['operation', 'status', 'code'],
    registers: [registry],
  })
  const bytesIn = new Counter({
    name: 's3veil_request_bytes_total',
    help: 'Request payload bytes read, by S3 operation.',
    labelNames: ['operation'],
    registers: [registry],
  })
  const bytesOut = new Counter({
    name: 's3veil_response_bytes_total',
    help: 'Response body bytes sent, by S3 operation.',
    labelNames: ['operation'],
    registers: [registry],
  })
  const latency = new Histogram({
    name: 's3veil_request_duration_seconds',
    help: 'Time from request to the end of the response body, by S3 operation.',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  })
  const upstreamCalls = new Counter({
    name: 's3veil_upstream_requests_total',
    help: 'Calls to the S3 upstream.',
    registers: [registry],
  })
  const upstreamErrors = new Counter({
    name: 's3veil_upstream_errors_total',
    help: 'Calls to the S3 upstream that failed (an error status or no answer).',
    registers: [registry],
  })
  const upstreamLatency = new Histogram({
    name: 's3veil_upstream_duration_seconds',
    help: 'Time a request spent waiting for the S3 upstream.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const security = new Counter({
    name: 's3veil_security_events_total',
    help: 'Security events (failed authentication, policy denials, throttling, integrity failures), by reason.',
    labelNames: ['reason'],
    registers: [registry],
  })
  // Every reason shows from the start (at 0), so an alert on `increase()` sees the first one.
  for (const reason of ['auth-failure', 'token-invalid', 'policy-denied', 'auth-throttled', 'integrity-failure', 'tls-handshake-failed']) {
    security.inc({ reason }, 0)
  }

  // STS takes its operation name from the request: a bounded set of label values, whatever clients send.
  const seen = new Set<string>()
  const label = (operation: string | undefined): string => {
    if (operation === undefined) return 'Unknown'
    if (seen.has(operation)) return operation
    if (seen.size >= MAX_OPERATIONS || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(operation)) return 'Other'
    seen.add(operation)
    return operation
  }

  return {
    observe(record: AuditRecord) {
      const operation = label(record.operation)
      requests.inc({ operation, status: String(record.status), code: record.errorCode ?? '' })
      bytesIn.inc({ operation }, record.bytesIn)
      bytesOut.inc({ operation }, record.bytesOut)
      latency.observe({ operation }, record.durationMs / 1000)
      if (record.upstreamCalls) {
        upstreamCalls.inc(record.upstreamCalls)
        upstreamErrors.inc(record.upstreamErrors ?? 0)
        upstreamLatency.observe((record.upstreamMs ?? 0) / 1000)
      }
      if (record.securityEvent) security.inc({ reason: record.securityEvent })
    },
    countSecurityEvent(reason) {
      security.inc({ reason })
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() }
    },
  }
}
