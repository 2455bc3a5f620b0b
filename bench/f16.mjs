#!/usr/bin/env node
// Launcher for bench/f16.ts: registers tsx and the `?raw` WGSL loader (tests/helpers/rawLoader.mjs) so
// the TypeScript sources run without a build. Usage: node bench/f16.mjs [tinySteps] [smallSteps] [timedSteps] [rounds]
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../tests/helpers/rawLoader.mjs', import.meta.url);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
await import('./f16.ts');
