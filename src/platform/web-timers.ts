/**
 * @module platform/web-timers
 * Node's `timers` for the Worker bundle (wrangler.toml [alias]), so no nodejs_compat is needed:
 * xml2js imports `setImmediate` (only its async mode, which s3/xml.ts does not use, calls it).
 */
export function setImmediate<A extends unknown[]>(callback: (...args: A) => void, ...args: A): ReturnType<typeof setTimeout> {
  return setTimeout(callback, 0, ...args)
}

export function clearImmediate(handle: ReturnType<typeof setTimeout> | undefined): void {
  clearTimeout(handle)
}
