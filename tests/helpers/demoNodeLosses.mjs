#!/usr/bin/env node
// Launcher for demoNodeLosses.ts: registers tsx and the `?raw` loader exactly as bin/cpc-webgpu.mjs does.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../../bin/raw-loader.mjs', import.meta.url);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { demoNodeLosses } = await import('./demoNodeLosses.ts');
const result = await demoNodeLosses(JSON.parse(process.argv[2] ?? '{"preset":"tiny","steps":3}'));
process.stdout.write(`${JSON.stringify(result)}\n`);
