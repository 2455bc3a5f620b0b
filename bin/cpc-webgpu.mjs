#!/usr/bin/env node
// The `cpc-webgpu` command: runs the compiled CLI in dist/ with plain node (no TypeScript loader).
// In a checkout, dist/ is built by `npm ci` (prepare), `npm run build` and the test command.
//
// Why a child process: on Mesa lavapipe, Dawn prints two "maxDynamic…PerPipelineLayout artificially
// reduced from 1000000 to 16" lines while it enumerates adapters — lavapipe reports 10⁶ dynamic
// buffers and Dawn clamps that to its internal array size. We request no such limit; the lines come
// from C++ straight to fd 2, before any device exists, so no JavaScript hook can filter them. The CLI
// therefore runs in a child whose fd 2 is a pipe this process filters; the child's own JavaScript
// stderr goes to fd 3, which is this process's real stderr (a terminal stays a terminal, so the
// progress bar works). `--verbose` (or CPC_WEBGPU_VERBOSE=1) runs in-process and shows Dawn's output.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { isatty, WriteStream } from 'node:tty';
import { fileURLToPath } from 'node:url';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const CHILD_ENV = 'CPC_WEBGPU_CLI_CHILD';
const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
/** Signals passed on to the child: it saves a checkpoint on SIGINT/SIGTERM (cpc-webgpu train). */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

async function runHere(args) {
  let cli;
  try {
    cli = await import('../dist/cli/main.js');
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/cli/main.js')) throw e;
    process.stderr.write('cpc-webgpu: dist/cli/main.js is missing; in a checkout run `npm run build` first\n');
    return 1;
  }
  return cli.main(args);
}

const argv = process.argv.slice(2);
const verbose = argv.includes('--verbose') || process.env.CPC_WEBGPU_VERBOSE === '1';
const args = argv.filter((a) => a !== '--verbose');

if (process.env[CHILD_ENV] === '1') {
  // Child: JavaScript's stderr is fd 3 (the parent's stderr); fd 2 carries only native output.
  const stderr = isatty(3) ? new WriteStream(3) : createWriteStream(null, { fd: 3 });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => stderr });
  // In its own process group the child would outlive a killed parent (kill -9, a test runner's
  // timeout): when the parent is gone, stop as on SIGTERM (train saves its checkpoint first).
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM'); }, 1000).unref();
  const code = await runHere(args);
  // Let fd 3 drain before exiting (it is a stream here, not process.stderr's synchronous fd 2).
  await new Promise((resolve) => stderr.write('', resolve));
  process.exitCode = code;
} else if (verbose) {
  process.exitCode = await runHere(args);
} else {
  // Own process group: a terminal's Ctrl-C reaches only this process, which forwards it once (the
  // child treats a second Ctrl-C as "quit now without saving").
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: ['inherit', 'inherit', 'pipe', 2],
    env: { ...process.env, [CHILD_ENV]: '1' },
    detached: true,
  });
  for (const sig of FORWARDED) process.on(sig, () => child.kill(sig));
  let rest = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    const kept = lines.filter((l) => !DAWN_NOISE.test(l));
    if (kept.length) process.stderr.write(`${kept.join('\n')}\n`);
  });
  child.on('close', (code, signal) => {
    if (rest && !DAWN_NOISE.test(rest)) process.stderr.write(rest);
    if (signal) {
      // Die of the same signal, so a shell or scheduler sees what happened to the command.
      for (const sig of FORWARDED) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 1;
  });
}
