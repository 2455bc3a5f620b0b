#!/usr/bin/env node
// Launcher for demoNodeLosses.ts: registers tsx and the `?raw` loader (tests/helpers/rawLoader.mjs), so the TypeScript sources run as they are.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./rawLoader.mjs', import.meta.url);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { demoNodeLosses } = await import('./demoNodeLosses.ts');
const result = await demoNodeLosses(JSON.parse(process.argv[2] ?? '{"preset":"tiny","steps":3}'));
process.stdout.write(`${JSON.stringify(result)}\n`);
