// scripts/device-report.mjs, the part of scripts/device-check.sh that turns its step outputs into the
// one JSON file a lent GPU machine sends back. The whole check needs that machine (or ~2 min of
// lavapipe: `scripts/device-check.sh --quick`), so here its report is fed made-up step outputs of
// every kind it must survive: a passing JSON step, failing kernel tests, a skipped tuner, a step
// killed by its time cap with no JSON, and a step never run.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'cpc-device-report-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('collects every step into one JSON, keeps failures and tails, flags a software adapter', () => {
  const put = (f: string, s: string) => writeFileSync(join(work, f), s);
  put('gpu.txt', 'NVIDIA H200, 580.159.04, 143771 MiB, 1980 MHz\n');
  const adapter = { vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25', isFallbackAdapter: true };
  put('info.out', `not json\n${JSON.stringify({ version: '0.1.0', adapter })}\n`); put('info.rc', '0\n'); put('info.s', '2\n');
  put('kernel_tests.rc', '1\n'); put('kernel_tests.s', '40\n'); put('kernel_tests.out', ''); put('kernel_tests.err', 'Warning: dawn notice\nreal error\n');
  put('vitest.json', JSON.stringify({
    numTotalTests: 3, numPassedTests: 2, numFailedTests: 1, numPendingTests: 0, numTodoTests: 0,
    testResults: [
      { name: '/x/tests/adam.test.ts', status: 'passed', startTime: 0, endTime: 1500, assertionResults: [{ status: 'passed', fullName: 'a' }, { status: 'passed', fullName: 'b' }] },
      { name: '/x/tests/gru.test.ts', status: 'failed', startTime: 0, endTime: 900, assertionResults: [{ status: 'failed', fullName: 'gru bwd meets the oracle', failureMessages: ['expected 1 to be 2'] }] },
    ],
  }));
  put('tune.skip', "skipped: this build has no 'cpc-webgpu tune' command\n");
  put('bench_kernels.rc', '124\n'); put('bench_kernels.s', '90\n'); put('bench_kernels.out', 'adapter: …\n'); put('bench_kernels.err', 'peak: 1 GFLOP/s\n');
  const out = join(work, 'report.json');
  const r = spawnSync(process.execPath, [join(repo, 'scripts', 'device-report.mjs'), work, out, '0', '321'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/a step failed/);
  const rep = JSON.parse(readFileSync(out, 'utf8'));
  expect(rep).toMatchObject({ version: 1, quick: false, total_s: 321 });
  expect(rep.machine.gpu).toBe('NVIDIA H200, 580.159.04, 143771 MiB, 1980 MHz');
  expect(rep.machine.adapter).toEqual(adapter);
  expect(rep.machine.software_adapter).toBe(true);
  expect(Object.keys(rep.steps)).toEqual(['info', 'kernel_tests', 'tune', 'bench_kernels', 'bench_e2e']);
  expect(rep.steps.info).toEqual({ rc: 0, seconds: 2, timed_out: false, result: { version: '0.1.0', adapter } });
  const k = rep.steps.kernel_tests;
  expect(k).toMatchObject({ rc: 1, seconds: 40, timed_out: false });
  expect(k.result).toMatchObject({ total: 3, passed: 2, failed: 1, skipped: 0 });
  expect(k.result.files).toEqual([{ file: 'tests/adam.test.ts', status: 'passed', ms: 1500 }, { file: 'tests/gru.test.ts', status: 'failed', ms: 900 }]);
  expect(k.result.failures).toEqual([{ file: 'tests/gru.test.ts', test: 'gru bwd meets the oracle', message: 'expected 1 to be 2' }]);
  expect(k.stderr_tail).toBe('real error\n');
  expect(rep.steps.tune).toEqual({ skipped: "skipped: this build has no 'cpc-webgpu tune' command" });
  expect(rep.steps.bench_kernels).toMatchObject({ rc: 124, timed_out: true, stdout_tail: 'adapter: …\n', stderr_tail: 'peak: 1 GFLOP/s\n' });
  expect(rep.steps.bench_kernels.result).toBeUndefined();
  expect(rep.steps.bench_e2e).toEqual({ skipped: 'not run' });
});

it('device-check.sh refuses an unknown option with exit 2 and documents itself', () => {
  const bad = spawnSync('bash', [join(repo, 'scripts', 'device-check.sh'), '--bogus'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/unknown option --bogus/);
  const help = execFileSync('bash', [join(repo, 'scripts', 'device-check.sh'), '--help'], { encoding: 'utf8' });
  expect(help).toMatch(/--quick/);
  expect(help).toMatch(/--out/);
});
