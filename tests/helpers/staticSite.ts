// Builds a vite page into a temp folder and serves it on a loopback port with `vite preview`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';

export interface ServedSite { url: string; outDir: string; close(): Promise<void>; }

export async function buildAndServe(root: string): Promise<ServedSite> {
  const outDir = mkdtempSync(join(tmpdir(), 'cpc-webgpu-site-'));
  await build({ root, logLevel: 'warn', configFile: false, base: './', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root, configFile: false, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
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
