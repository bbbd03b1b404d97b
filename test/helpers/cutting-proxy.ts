/**
 * @module test/helpers/cutting-proxy
 * An HTTP proxy on 127.0.0.1 in front of an S3 upstream that passes everything through unchanged
 * (Host included, so the upstream's SigV4 check still holds) except the requests a test chooses to
 * fail: their connection is cut, optionally after part of the body has arrived. This is an upstream
 * that fails one part, or one Complete, in the middle of a multipart upload.
 */
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface CutRule {
  /** Which requests to cut (method and raw URL as the gateway sent them). */
  match: (req: IncomingMessage) => boolean
  /** How many matching requests to cut (default 1); later ones pass. */
  times?: number
  /** Cut once this many body bytes have arrived (default 0: as soon as the headers are in). */
  afterBytes?: number
  /** Pass the request on and cut when the upstream's answer arrives: the upstream acted, the caller never hears. */
  afterUpstream?: boolean
}

export interface CuttingProxy {
  url: string
  /** Arms a rule; rules are tried in the order they were armed. */
  cut(rule: CutRule): void
  /** Disarms every rule: everything passes again. */
  clear(): void
  /** How many requests have been cut so far. */
  cuts(): number
  stop(): Promise<void>
}

export async function startCuttingProxy(upstream: string): Promise<CuttingProxy> {
  const target = new URL(upstream)
  const agent = new Agent({ keepAlive: true })
  const rules: Required<CutRule>[] = []
  let cutCount = 0
  const server: Server = createServer((req, res) => {
    const rule = rules.find((r) => r.times > 0 && r.match(req))
    if (rule && !rule.afterUpstream) {
      rule.times--
      cutCount++
      let seen = 0
      const cut = () => req.socket.destroy()
      if (rule.afterBytes <= 0) return cut()
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length
        if (seen >= rule.afterBytes) cut()
      })
      req.on('end', cut)
      return
    }
    const forward = request(
      { host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        if (rule) {
          rule.times--
          cutCount++
          answer.resume()
          return req.socket.destroy()
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
        answer.on('error', () => res.destroy())
      }
    )
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    cut: (rule) => void rules.push({ times: 1, afterBytes: 0, afterUpstream: false, ...rule }),
    clear: () => void rules.splice(0),
    cuts: () => cutCount,
    stop: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      agent.destroy()
    },
  }
}
