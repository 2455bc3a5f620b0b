// Runs the real `cpc-webgpu` command (bin/cpc-webgpu.mjs) as a child process, the way a user does.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'cpc-webgpu.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI. `whileRunning` gets the child (e.g. to send SIGINT) once it has started.
 * Dawn's Vulkan warnings on stderr are dropped so assertions see only our output.
 */
export function cli(args: string[], opts: { env?: Record<string, string>; whileRunning?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr: withoutDawnWarnings(stderr) });
    });
    opts.whileRunning?.(child);
  });
}

/** stderr without Dawn's own Vulkan notices ("Warning: … artificially reduced …"): not ours to count. */
export function withoutDawnWarnings(stderr: string): string {
  return stderr.split('\n').filter((l) => !l.startsWith('Warning: ')).join('\n');
}

/** The last stdout line parsed as JSON (the `--json` summary). */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}
