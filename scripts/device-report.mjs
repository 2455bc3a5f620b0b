#!/usr/bin/env node
// Gathers scripts/device-check.sh's step outputs into its one JSON file:
//   { version, quick, total_s, machine: {gpu, adapter, software_adapter, node, env}, steps: {info, kernel_tests, tune, bench_kernels, bench_e2e} }
// Each step: {rc, seconds, result} where `result` is the step's JSON (the CLI's --json object; for
// kernel_tests a summary of vitest's JSON report with every failure's name and message), or
// {skipped: why}; a step whose output is not JSON keeps the tail of its stdout and stderr instead.
// Usage: node scripts/device-report.mjs WORKDIR OUTFILE QUICK(0|1) TOTAL_S
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [work, outFile, quick, totalS] = process.argv.slice(2);
const read = (f) => (existsSync(join(work, f)) ? readFileSync(join(work, f), 'utf8') : null);
const tail = (s, n = 4000) => (s === null ? null : s.length > n ? `…${s.slice(-n)}` : s);
/** Dawn's own start-up notices are not ours to report. */
const clean = (s) => (s === null ? null : s.split('\n').filter((l) => !l.startsWith('Warning: ')).join('\n'));

function lastJsonLine(text) {
  const lines = (text ?? '').trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try { return JSON.parse(lines[i]); } catch { /* not this line */ }
  }
  return null;
}

function vitestSummary() {
  const j = read('vitest.json');
  if (!j) return null;
  const r = JSON.parse(j);
  const failures = [];
  for (const file of r.testResults ?? []) {
    const rel = String(file.name).replace(/^.*?\/tests\//, 'tests/');
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((a) => a.status === 'failed')) failures.push({ file: rel, message: tail(file.message ?? '', 2000) });
    for (const a of file.assertionResults ?? []) {
      if (a.status === 'failed') failures.push({ file: rel, test: a.fullName, message: tail((a.failureMessages ?? []).join('\n'), 2000) });
    }
  }
  return {
    files: (r.testResults ?? []).map((f) => ({ file: String(f.name).replace(/^.*?\/tests\//, 'tests/'), status: f.status, ms: Math.round((f.endTime ?? 0) - (f.startTime ?? 0)) })),
    total: r.numTotalTests, passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + (r.numTodoTests ?? 0),
    failures,
  };
}

function isSoftware(a) {
  return Boolean(a?.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|software/i.test(`${a?.vendor} ${a?.architecture} ${a?.description}`);
}

function step(name) {
  const skip = read(`${name}.skip`);
  if (skip !== null) return { skipped: skip.trim() };
  const rc = read(`${name}.rc`);
  if (rc === null) return { skipped: 'not run' };
  const out = { rc: Number(rc), seconds: Number(read(`${name}.s`)), timed_out: Number(rc) === 124 || Number(rc) === 137 };
  const result = name === 'kernel_tests' ? vitestSummary() : lastJsonLine(read(`${name}.out`));
  if (result) out.result = result;
  if (!result || out.rc !== 0) { out.stdout_tail = tail(read(`${name}.out`)); out.stderr_tail = tail(clean(read(`${name}.err`))); }
  return out;
}

const steps = Object.fromEntries(['info', 'kernel_tests', 'tune', 'bench_kernels', 'bench_e2e'].map((n) => [n, step(n)]));
const report = {
  version: 1,
  created: new Date().toISOString(),
  quick: quick === '1',
  total_s: Number(totalS),
  machine: {
    gpu: (read('gpu.txt') ?? '').trim(),
    adapter: steps.info.result?.adapter ?? null,
    // Numbers from lavapipe or SwiftShader are not GPU numbers: say so where a reader looks first.
    software_adapter: steps.info.result ? isSoftware(steps.info.result.adapter) : null,
    node: process.version,
    env: Object.fromEntries(['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'LD_LIBRARY_PATH'].filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
  },
  steps,
};
writeFileSync(outFile, `${JSON.stringify(report, null, 1)}\n`);
const ok = Object.values(steps).every((s) => s.skipped !== undefined || s.rc === 0);
console.error(`device-check: ${outFile} (${ok ? 'every step that ran passed' : 'a step failed: see its rc and tails'}; ${totalS}s)`);
process.exit(ok ? 0 : 1);
