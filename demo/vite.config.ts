// The browser demo: `npm run demo` (dev server) and `npm run build:demo` (static site in dist/demo).
// Two pages: index.html (train CPC live) and bench.html (the kernel benchmarks of `cpc-webgpu bench`
// on the visitor's GPU, demo/bench.ts).
// base './' makes every asset URL relative, so the built folder works from any static host and any
// sub-path. No cross-origin isolation is needed (no SharedArrayBuffer), so no special headers.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  base: './',
  // The demo imports ../src directly (the same modules as Node); let the dev server read them.
  server: { fs: { allow: [repo] } },
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('../dist/demo', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // WGSL sources are inlined as strings; the largest chunk is the worker with every kernel.
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      input: { main: fileURLToPath(new URL('index.html', import.meta.url)), bench: fileURLToPath(new URL('bench.html', import.meta.url)) },
    },
  },
});
