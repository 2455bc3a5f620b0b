// Prints the adapter the suite runs on, once, and fails early with the install hint if none.
// Also rebuilds dist/ when a source is newer: the CLI tests run bin/cpc-webgpu.mjs, which runs dist/,
// and a stale build would test yesterday's code (scripts/test.sh does the same for `npm test`).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { acquireNodeDevice } from '../../src/node/device.ts';

export default async function setup(): Promise<void> {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const ctx = await acquireNodeDevice({ label: 'globalSetup' });
  const a = ctx.adapter;
  console.log(`[cpc-webgpu tests] adapter: ${a.description} (vendor ${a.vendor}, ${a.architecture}); features: ${[...ctx.features].join(', ')}`);
  ctx.dispose();
}
