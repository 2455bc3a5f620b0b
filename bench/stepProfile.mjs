#!/usr/bin/env node
// Launcher for bench/stepProfile.ts: registers tsx and the `?raw` WGSL loader (tests/helpers/rawLoader.mjs) so
// the TypeScript sources run without a build. Usage: node bench/stepProfile.mjs [preset] [profiles] [timedSteps]
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../tests/helpers/rawLoader.mjs', import.meta.url);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
await import('./stepProfile.ts');
