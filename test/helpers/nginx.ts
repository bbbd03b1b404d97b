/**
 * @module test/helpers/nginx
 * Debian's nginx as a round-robin reverse proxy on 127.0.0.1 in front of several gateway instances,
 * the way an operator would run s3veil behind a load balancer. It runs in the foreground
 * (`daemon off`) with its own prefix directory, so it touches nothing of the system's nginx setup.
 *
 * The proxy streams both ways (no request or response buffering, no body size limit) and passes
 * the Host header through unchanged: the gateway verifies SigV4 against the Host the client signed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './rgw.js'

export const NGINX = '/usr/sbin/nginx'

export function hasNginx(): boolean {
  return existsSync(NGINX)
}

export interface NginxProxy {
  url: string
  host: string
  port: number
  /** nginx's error log so far (for failure messages). */
  errors(): Promise<string>
  stop(): Promise<void>
}

function configText(dir: string, port: number, upstreams: { host: string; port: number }[]): string {
  const servers = upstreams.map((u) => `    server ${u.host}:${u.port};`).join('\n')
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream gateways {
${servers}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 120s;
    proxy_send_timeout 120s;
    location / {
      proxy_pass http://gateways;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
    }
  }
}
`
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`nginx exited with ${child.exitCode}`))
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy()
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`nginx did not listen on ${port} in ${timeoutMs} ms`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

/** Starts nginx round-robin over `upstreams` (each `http://host:port`). */
export async function startNginx(upstreams: string[]): Promise<NginxProxy> {
  const dir = await mkdtemp(join(tmpdir(), 's3veil-nginx-'))
  await mkdir(join(dir, 'tmp'))
  const port = await freePort()
  const targets = upstreams.map((u) => {
    const url = new URL(u)
    return { host: url.hostname, port: Number(url.port) }
  })
  const conf = join(dir, 'nginx.conf')
  await writeFile(conf, configText(dir, port, targets))
  // -p sets the prefix (relative paths and the default log live under it); -e overrides the
  // compiled-in error log, which nginx opens before it reads the config.
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const errors = async () => output + (await readFile(join(dir, 'error.log'), 'utf8').catch(() => ''))
  try {
    await waitForPort(port, child, 10_000)
  } catch (err) {
    child.kill('SIGTERM')
    throw new Error(`${(err as Error).message}\n${await errors()}`)
  }
  return {
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    errors,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((done) => child.once('exit', () => done()))
        // SIGTERM is nginx's fast shutdown: master and worker exit at once.
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
