#!/usr/bin/env node
// Packs what scripts/device-check.sh needs on a lent GPU machine that has no network and gets only
// the git-tracked files plus at most 8 carried paths of ≤ 64 MiB in all: .device-pack/cpc-device.tar.xz
// with
//   node/bin/node      this machine's node (official linux-x64 builds link only glibc; the GPU image may have none)
//   dist/              the built package (bin/cpc-webgpu.mjs runs it)
//   node_modules/      the runtime closure of dist/ (webgpu with only its linux-x64 dawn.node, wavefile,
//                      the flac decoder, cli-progress), the tfjs peer of `bench --e2e` (only each
//                      @tensorflow package's Node entry file: the other bundles are ~95 % of its 290 MB),
//                      the jax-js peer (@jax-js/jax, 0.8 MB of JS),
//                      and vitest with its dependencies for the kernel-vs-oracle tests
//   lib/               the Vulkan loader and GLVND libraries of this machine, used there only for the
//                      ones its ldconfig lacks (NVIDIA's Vulkan ICD needs libGLX/libGLdispatch)
// Usage: node scripts/device-pack.mjs   (then carry [".device-pack"]; device-check.sh unpacks it).
// Fails when the archive exceeds the carry limit, so an over-grown closure is seen here, not there.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.device-pack');
const stage = join(out, 'stage');
const LIMIT = 64 * 1024 * 1024;
/** Left for the tracked files, which travel in the same 64 MiB. */
const TREE_RESERVE = 8 * 1024 * 1024;

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const ROOTS = [
  ...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}),
  '@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', '@jax-js/jax', 'vitest',
];

/** Package folder of `name` as resolved from folder `from` (node's lookup: node_modules up the tree). */
function findPackage(name, from) {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name, 'package.json');
    if (existsSync(p)) return dirname(p);
    if (dirname(d) === d) return null;
  }
}

// Dependency closure; optional and peer dependencies only where installed (a missing optional
// native build for another platform is normal), and non-optional peers. Type-only packages never run.
const dirs = new Map();
const queue = ROOTS.map((n) => [n, root]);
while (queue.length) {
  const [name, from] = queue.pop();
  if (name.startsWith('@types/')) continue;
  const dir = findPackage(name, from);
  if (!dir) {
    if (ROOTS.includes(name) && from === root) throw new Error(`device-pack: ${name} is not installed (npm ci first)`);
    continue;
  }
  if (dirs.has(dir)) continue;
  dirs.set(dir, name);
  const j = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  // Optional peers (vite's esbuild, lightningcss, sass…) are plug-ins the kernel tests never load.
  const peers = Object.keys(j.peerDependencies ?? {}).filter((n) => !j.peerDependenciesMeta?.[n]?.optional);
  for (const n of [...Object.keys(j.dependencies ?? {}), ...Object.keys(j.optionalDependencies ?? {}), ...peers]) queue.push([n, dir]);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
cpSync(join(root, 'dist'), join(stage, 'dist'), { recursive: true });

for (const [dir, name] of dirs) {
  const dest = join(stage, dir.slice(root.length + 1));
  if (name === 'webgpu') {
    // dawn.node for this platform only: the other four prebuilt binaries are 112 of its 132 MB.
    cpSync(dir, dest, { recursive: true, filter: (src) => !/[/\\]dist[/\\](?!linux-x64)[^/\\]+$/.test(src.slice(dir.length)) });
  } else if (name.startsWith('@tensorflow/')) {
    const j = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    mkdirSync(join(dest, dirname(j.main)), { recursive: true });
    cpSync(join(dir, 'package.json'), join(dest, 'package.json'));
    cpSync(join(dir, j.main), join(dest, j.main));
  } else {
    // Source maps, declarations and docs do not run.
    cpSync(dir, dest, { recursive: true, filter: (src) => !/\.(map|d\.ts|d\.mts|d\.cts|md)$/.test(src) || src === dir });
  }
}

mkdirSync(join(stage, 'node', 'bin'), { recursive: true });
cpSync(realpathSync(process.execPath), join(stage, 'node', 'bin', 'node'));
mkdirSync(join(stage, 'lib'), { recursive: true });
const libs = [];
for (const lib of ['libvulkan.so.1', 'libGLdispatch.so.0', 'libGLX.so.0', 'libEGL.so.1', 'libGL.so.1', 'libOpenGL.so.0']) {
  const p = `/usr/lib/x86_64-linux-gnu/${lib}`;
  if (existsSync(p)) { cpSync(realpathSync(p), join(stage, 'lib', lib)); libs.push(lib); }
}

const manifest = {
  created: new Date().toISOString(),
  commit: execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(),
  node: process.version,
  packages: [...dirs.values()].sort(),
  libs,
};
writeFileSync(join(stage, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 1)}\n`);
const staged = Number(execFileSync('du', ['-sb', stage], { encoding: 'utf8' }).split('\t')[0]);
const archive = join(out, 'cpc-device.tar.xz');
execFileSync('tar', ['-C', stage, '-cf', archive, '--use-compress-program=xz -T0 -4', '.'], { stdio: 'inherit' });
rmSync(stage, { recursive: true, force: true });
writeFileSync(join(out, 'MANIFEST.json'), `${JSON.stringify({ ...manifest, staged_bytes: staged, archive_bytes: statSync(archive).size }, null, 1)}\n`);
const size = statSync(archive).size;
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
console.error(`device-pack: ${archive.slice(root.length + 1)} ${mib(size)} (${mib(staged)} unpacked, ${dirs.size} packages); carry [".device-pack"]`);
if (size > LIMIT - TREE_RESERVE) {
  console.error(`device-pack: over the carry budget: ${mib(size)} > ${mib(LIMIT - TREE_RESERVE)} (64 MiB less ${mib(TREE_RESERVE)} for the tracked files)`);
  process.exit(1);
}
