/**
 * @module tls
 * The HTTPS listener's TLS, Node only: server options from the `tls` config (TLS 1.2 floor, forward-
 * secret AEAD suites, optional client certificates), reloading the certificate and key on SIGHUP or
 * when their files change, the facts of a connection's TLS session for the app (version, cipher,
 * client certificate), and certificate subjects in one comparable form for the mTLS user mapping.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https'
import type { Socket } from 'node:net'
import { basename, dirname } from 'node:path'
import { createSecureContext, TLSSocket } from 'node:tls'
import type { SecretRef, TlsConfig } from './config.js'
import type { ConnectionInfo } from './env.js'

/**
 * TLS 1.2 suites by default: ECDHE key exchange (forward secrecy) with an AEAD cipher only. TLS 1.3's
 * suites, listed first, are all of that kind; naming them keeps them whatever OpenSSL's defaults are.
 */
export const DEFAULT_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

export type SecretResolver = (ref: SecretRef, what: string) => Promise<string>

/** The PEM material of the listener, read afresh at start and at every reload. */
async function material(config: TlsConfig, resolveSecret: SecretResolver) {
  const [cert, key, ca] = await Promise.all([
    readPem(config.cert, 'tls.cert'),
    resolveSecret(config.key, 'tls.key'),
    config.clientCertificates
      ? readPem(config.clientCertificates.ca, 'tls.clientCertificates.ca').then((pem) => checkCaBundle(pem, 'tls.clientCertificates.ca'))
      : undefined,
  ])
  return { cert, key, ca }
}

/**
 * A CA bundle's PEM text, checked: at least one certificate, each of which parses. Node would take an
 * empty or wrong file silently and then trust nothing (every client certificate refused) or, for the
 * upstream, only the public roots.
 */
export function checkCaBundle(pem: string, what: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) throw new Error(`${what}: no certificate in it (want PEM "-----BEGIN CERTIFICATE-----" blocks)`)
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block)
    } catch {
      throw new Error(`${what}: certificate ${i + 1} in it does not parse`)
    }
  })
  return pem
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new Error(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
}

/**
 * Options for https.createServer (and for setSecureContext on reload), checked first: a PEM that does
 * not parse, or a key that does not belong to the certificate, fails here. (OpenSSL itself silently
 * drops a mismatched key, which would leave a listener that fails every handshake.)
 */
export async function tlsServerOptions(config: TlsConfig, resolveSecret: SecretResolver): Promise<HttpsServerOptions> {
  const pem = await material(config, resolveSecret)
  const clientCerts = config.clientCertificates
  const options: HttpsServerOptions = {
    cert: pem.cert,
    key: pem.key,
    minVersion: config.minVersion,
    ciphers: config.ciphers ?? DEFAULT_CIPHERS,
    // Our order, not the client's: the strongest suite both sides have.
    honorCipherOrder: true,
    ...(clientCerts && pem.ca !== undefined
      ? { ca: pem.ca, requestCert: true, rejectUnauthorized: clientCerts.required }
      : {}),
  }
  if (config.ciphers !== undefined) {
    try {
      createSecureContext({ ciphers: config.ciphers, minVersion: config.minVersion })
    } catch (err) {
      throw new Error(`tls.ciphers: OpenSSL cannot use "${config.ciphers}" (${err instanceof Error ? err.message : String(err)})`)
    }
  }
  let matches: boolean
  try {
    createSecureContext(options)
    matches = new X509Certificate(pem.cert).checkPrivateKey(createPrivateKey(pem.key))
  } catch (err) {
    // OpenSSL's reason only (say "key values mismatch"): never the PEM text.
    throw new Error(`tls: cannot use the certificate ${config.cert} and its key: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (!matches) throw new Error(`tls: the key does not belong to the certificate in ${config.cert}`)
  return options
}

/** Subject, serial and fingerprint of the first certificate in a PEM chain, for the logs. */
export function describeCertificate(
  pem: string | Buffer | undefined
): { subject: string; serial: string; fingerprint256: string } | undefined {
  if (pem === undefined) return undefined
  const cert = new X509Certificate(pem)
  return { subject: formatSubject(cert.subject), serial: cert.serialNumber, fingerprint256: cert.fingerprint256 }
}

export interface ReloadLog {
  info(fields: object, msg: string): void
  error(fields: object, msg: string): void
}

export interface CertificateReloader {
  /** Re-reads the files now (SIGHUP does this too). Resolves false when the new material was refused. */
  reload(): Promise<boolean>
  close(): void
}

/**
 * Reloads the listener's certificate, key and client CA on SIGHUP and when one of their files
 * changes. The directories are watched, not the files: tools replace certificates by renaming a new
 * file over the old one, which a watch on the old file never reports. Changes are debounced (a
 * renewal writes the certificate and the key one after the other). A new set that does not load is
 * logged and the one in use is kept.
 */
export function watchCertificates(
  server: HttpsServer,
  config: TlsConfig,
  resolveSecret: SecretResolver,
  log: ReloadLog,
  debounceMs = 300
): CertificateReloader {
  const keyFile = typeof config.key === 'object' && 'file' in config.key ? config.key.file : undefined
  const files = [config.cert, config.clientCertificates?.ca, keyFile].filter((f): f is string => f !== undefined)
  let running: Promise<boolean> = Promise.resolve(true)
  const reload = (): Promise<boolean> => {
    // One at a time, in order: the last reload reads the last files.
    running = running.then(async () => {
      try {
        const options = await tlsServerOptions(config, resolveSecret)
        server.setSecureContext(options)
        log.info({ certificate: describeCertificate(options.cert as string) }, 'TLS certificate reloaded')
        return true
      } catch (err) {
        // The message names the file or the OpenSSL failure; PEM contents are never part of it.
        const reason = err instanceof Error ? err.message : String(err)
        log.error({ reason }, 'TLS certificate reload failed; keeping the current certificate')
        return false
      }
    })
    return running
  }
  let timer: NodeJS.Timeout | undefined
  const schedule = () => {
    clearTimeout(timer)
    timer = setTimeout(() => void reload(), debounceMs)
    timer.unref()
  }
  const watchers: FSWatcher[] = []
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    const names = new Set(files.filter((f) => dirname(f) === dir).map((f) => basename(f)))
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) schedule()
      })
      watcher.on('error', (err) => log.error({ reason: err.message, dir }, 'TLS certificate watch failed; SIGHUP still reloads'))
      watchers.push(watcher)
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      log.error({ reason, dir }, 'cannot watch TLS certificate files; SIGHUP still reloads')
    }
  }
  const onHup = () => void reload()
  process.on('SIGHUP', onHup)
  return {
    reload,
    close: () => {
      clearTimeout(timer)
      process.off('SIGHUP', onHup)
      for (const w of watchers) w.close()
    },
  }
}

const connections = new WeakMap<Socket, ConnectionInfo>()

/**
 * The TLS facts of the connection a request came on; undefined for plain HTTP. Computed once per
 * connection (keep-alive requests share it).
 */
export function connectionInfo(socket: Socket): ConnectionInfo | undefined {
  if (!(socket instanceof TLSSocket)) return undefined
  let info = connections.get(socket)
  if (info) return info
  const cipher = socket.getCipher()
  const peer = socket.getPeerX509Certificate()
  info = {
    tlsVersion: socket.getProtocol() ?? undefined,
    tlsCipher: cipher?.standardName ?? cipher?.name,
    clientCertSubject: peer ? formatSubject(peer.subject) : undefined,
    clientCertAuthorized: peer ? socket.authorized : undefined,
  }
  connections.set(socket, info)
  return info
}

/**
 * A subject as X509Certificate prints it (one RDN a line, in certificate order, `+` between the parts
 * of a multi-valued RDN, RFC 4514 escapes) in the usual one-line form, most specific first:
 * `CN=alice,O=Example`.
 */
export function formatSubject(multiline: string): string {
  return multiline
    .split('\n')
    .filter((line) => line !== '')
    .reverse()
    .map((line) => line.split(' + ').join('+'))
    .join(',')
}

/** Splits on separators that are not escaped with a backslash. */
function splitUnescaped(text: string, separators: string): string[] {
  const parts: string[] = []
  let current = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[++i]
    } else if (separators.includes(ch)) {
      parts.push(current)
      current = ''
    } else {
      current += ch
    }
  }
  parts.push(current)
  return parts
}

/**
 * The comparable form of a subject: its attributes as `TYPE=value` (type in upper case, spaces around
 * the parts dropped), sorted. Order does not matter, so `CN=alice,O=Example` (RFC 4514 order) and
 * `O=Example,CN=alice` (OpenSSL's order) name the same certificate; values compare exactly.
 */
export function subjectKey(subject: string): string {
  return splitUnescaped(subject, ',+')
    .map((ava) => {
      const eq = ava.indexOf('=')
      return eq < 0 ? ava.trim() : `${ava.slice(0, eq).trim().toUpperCase()}=${ava.slice(eq + 1).trim()}`
    })
    .filter((ava) => ava !== '')
    .sort()
    .join(',')
}

/** Looks up the user mapped to a certificate subject (keys as configured, compared by subjectKey). */
export function subjectMapper(users: Record<string, string>): (subject: string) => string | undefined {
  const byKey = new Map(Object.entries(users).map(([subject, user]) => [subjectKey(subject), user]))
  return (subject) => byKey.get(subjectKey(subject))
}
