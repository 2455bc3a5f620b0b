#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx) so `npx cpc-webgpu` works right after `npm ci`,
// with no build step that could go stale.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
// Registered after tsx so it sees `?raw` URLs first (hooks run last-registered first).
register('./raw-loader.mjs', import.meta.url);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
