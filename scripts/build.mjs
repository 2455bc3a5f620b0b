#!/usr/bin/env node
// Builds dist/ — what the npm package ships and what bin/cpc-webgpu.mjs runs:
//   dist/index.js, dist/node/index.js, dist/cli/main.js (+ shared chunks, source maps): esbuild bundles
//     the TypeScript sources; every `import x from './y.wgsl?raw'` (any file, src/ or bench/) becomes a
//     string constant, so neither plain node nor a consumer's bundler needs a loader.
//   dist/types/**.d.ts: tsc's declaration emit, with relative `.ts` specifiers rewritten to `.js`
//     (the sources import `./x.ts`; a consumer's `nodenext` resolution needs `./x.js`).
// Why esbuild + tsc: esbuild is the fastest maintained bundler, already in our tree (tsx, vite) and
// code-splits the three entries so `cpc-webgpu` and `cpc-webgpu/node` share one copy of each module
// (one CpcError class, one GpuContext); tsc is the only tool that emits declarations faithfully.
//
// `node scripts/build.mjs --if-stale` does nothing when dist/ is newer than every input (tests call it).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const stamp = join(dist, '.build-stamp');
const INPUTS = ['src', 'bench', 'scripts/build.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

function* files(path) {
  if (!existsSync(path)) return;
  if (!statSync(path).isDirectory()) {
    yield path;
    return;
  }
  for (const e of readdirSync(path, { withFileTypes: true })) yield* files(join(path, e.name));
}

function newestInput() {
  let t = 0;
  for (const p of INPUTS) for (const f of files(join(root, p))) t = Math.max(t, statSync(f).mtimeMs);
  return t;
}

if (process.argv.includes('--if-stale') && existsSync(stamp) && statSync(stamp).mtimeMs >= newestInput()) process.exit(0);

const t0 = performance.now();
rmSync(dist, { recursive: true, force: true });

/** `./x.wgsl?raw` → the file's text as the module's default export (vite's `?raw` contract). */
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)),
      namespace: 'raw-text',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, (args) => ({
      contents: readFileSync(args.path, 'utf8'),
      loader: 'text',
      watchFiles: [args.path],
    }));
  },
};

await build({
  absWorkingDir: root,
  entryPoints: { index: 'src/index.ts', 'node/index': 'src/node/index.ts', 'cli/main': 'src/cli/main.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  // 'neutral' keeps the browser entry free of Node assumptions; node: built-ins stay imports.
  platform: 'neutral',
  target: 'es2022',
  // Dependencies (webgpu, wavefile, cli-progress, the optional @tensorflow peer) stay imports, resolved
  // by the consumer's node or bundler.
  packages: 'external',
  external: ['node:*'],
  sourcemap: true,
  plugins: [rawText],
  logLevel: 'warning',
});

// Declarations: tsc emits them next to nothing else; then `.ts` specifiers become `.js`.
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const typesDir = join(dist, 'types');
for (const f of files(typesDir)) {
  if (!f.endsWith('.d.ts')) continue;
  const text = readFileSync(f, 'utf8');
  if (text.includes('?raw')) throw new Error(`build: ${relative(root, f)} mentions a ?raw module; a consumer could not resolve it`);
  // Only relative specifiers (`'./x.ts'`, `"../y/z.ts"`) in import/export/import() positions.
  const out = text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2');
  if (out !== text) writeFileSync(f, out);
}
writeFileSync(stamp, `${new Date().toISOString()}\n`);
console.error(`build: dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
