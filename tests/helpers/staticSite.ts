// Builds a vite page into a temp folder and serves it on a loopback port with `vite preview`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';

export interface ServedSite { url: string; outDir: string; close(): Promise<void>; }

/**
 * `configFile` (optional) builds with that vite config (e.g. demo/vite.config.ts, for its worker
 * format and fs settings); the output still goes to a fresh temp folder, never the config's outDir.
 * `allowedHosts`: host names besides localhost the server answers to (vite refuses others, against
 * DNS rebinding), for a page opened under a mapped name.
 */
export async function buildAndServe(root: string, opts: { configFile?: string; allowedHosts?: string[] } = {}): Promise<ServedSite> {
  const outDir = mkdtempSync(join(tmpdir(), 'cpc-webgpu-site-'));
  const configFile = opts.configFile ?? false;
  await build({ root, logLevel: 'warn', configFile, base: './', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root, configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false, allowedHosts: opts.allowedHosts } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a URL');
  return {
    url,
    outDir,
    async close() {
      await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
