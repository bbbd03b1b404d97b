import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vitest/config'

const NODE_PLATFORM = fileURLToPath(new URL('./src/platform/node.ts', import.meta.url))
const WEB_AS_NODE = fileURLToPath(new URL('./test/worker/web-platform-as-node.ts', import.meta.url))

/** Resolves every import of src/platform/node.ts to the Web platform (the `web-platform` project). */
function webPlatformAsNode(): Plugin {
  return {
    name: 's3veil-web-platform-as-node',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!/node(\.js|\.ts)?$/.test(source) || importer === WEB_AS_NODE) return null
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
      return resolved?.id === NODE_PLATFORM ? WEB_AS_NODE : null
    },
  }
}

/**
 * One run (`vitest run`), one RGW (test/global-setup.ts, declared once here), three projects:
 * - node: every Node suite, as before;
 * - web-platform: the unit tests of the runtime seam's users (platform, crypto, SigV4, STS, the
 *   encrypted backend, the frozen crypto vectors) again, with src/platform/node.ts replaced by the
 *   Web implementation Workers use (test/worker/web-platform-as-node.ts);
 * - worker: src/worker.ts in workerd (wrangler's unstable_startWorker) against RGW.
 */
const timeouts = { testTimeout: 60_000, hookTimeout: 120_000 }

// The projects do not extend the root config: they would inherit `globalSetup` and each start an RGW.
// vitest runs the root's global setup once, and every project sees what it `provide`s.
export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    projects: [
      {
        test: { ...timeouts, name: 'node', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['test/worker/**', '**/node_modules/**'] },
      },
      {
        plugins: [webPlatformAsNode()],
        test: {
          ...timeouts,
          name: 'web-platform',
          // The suites that take their platform from src/platform/node.ts (directly or via test helpers).
          include: [
            'src/platform/node.test.ts',
            'src/crypto/{envelope,keyring,segments,stream,trailer}.test.ts',
            'src/auth/sigv4/{canonical,checksums,chunked,payload,signing-key,verify,verify.roundtrip}.test.ts',
            'src/auth/{sts,basic}.test.ts',
            'src/backend/encrypted.test.ts',
            'test/fixtures/crypto/vectors.test.ts',
          ],
        },
      },
      {
        test: { ...timeouts, name: 'worker', include: ['test/worker/**/*.test.ts'] },
      },
    ],
  },
})
