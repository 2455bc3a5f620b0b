#!/usr/bin/env node
// The `cpc-webgpu` command: runs the compiled CLI in dist/ with plain node (no TypeScript loader).
// In a checkout, dist/ is built by `npm ci` (prepare), `npm run build` and the test command.
process.env.XDG_RUNTIME_DIR ??= '/tmp';
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/cli/main.js')) throw e;
  process.stderr.write('cpc-webgpu: dist/cli/main.js is missing; in a checkout run `npm run build` first\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
