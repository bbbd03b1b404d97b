/**
 * @module test/worker/web-platform-as-node
 * Stands in for src/platform/node.ts in vitest's `web-platform` project (vitest.config.ts), so the
 * platform, crypto, SigV4 and STS unit tests and the frozen crypto vectors run unchanged against the
 * Web implementation that Workers use.
 */
export { webPlatform as nodePlatform } from '../../src/platform/web.js'
