// The real PyTorch (Debian's python3-torch at /usr/bin/python3 — not the pyenv python on PATH) for the
// interop tests. Where it is absent the tests skip with the reason; under CI (process.env.CI set)
// absence is a failure, since .ci/run installs it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const INTEROP_DIR = join(import.meta.dirname, '..', '..', 'interop', 'pytorch');

/** Why PyTorch cannot run here, or null when it can. Throws under CI instead of returning a reason. */
export function torchMissingReason(): string | null {
  let reason: string | null = null;
  if (!existsSync(PYTHON)) reason = `${PYTHON} does not exist`;
  else {
    try {
      execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'pipe', timeout: 120_000 });
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? String(e);
      reason = `${PYTHON} cannot import torch/numpy (${err}); install: apt-get install python3-torch python3-numpy`;
    }
  }
  if (reason && process.env.CI) throw new Error(`PyTorch interop tests must run in CI, but ${reason}`);
  if (reason) console.warn(`[pytorch interop] SKIPPED: ${reason}`);
  return reason;
}

export interface ProcResult { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion, collecting its output (no shell). */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `python3 interop/pytorch/<script> args…` with a single torch thread pool (the machine is shared). */
export function runPython(script: string, args: string[]): Promise<ProcResult> {
  return run(PYTHON, [join(INTEROP_DIR, script), ...args], { env: { OMP_NUM_THREADS: '1' } });
}
