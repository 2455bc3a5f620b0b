// Runs the real CLI like helpers/cli.ts, but under a wall-clock limit and an RSS limit, for the
// bad-input tests: a refused input must not hang or grow without bound before it is refused.
// The peak RSS is the kernel's high-water mark (VmHWM in /proc/PID/status, Linux), polled while the
// child runs; the child is killed as soon as it passes either limit.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BIN, type CliResult } from './cli.ts';

export interface BoundedResult extends CliResult {
  /** Highest VmHWM seen, in KiB (0 if the child exited before the first poll). */
  peakRssKiB: number;
  /** Why the child was killed, or null if it exited by itself. */
  killed: 'timeout' | 'rss' | null;
}

export interface Bounds {
  timeoutMs: number;
  maxRssKiB: number;
  env?: Record<string, string>;
}

function vmHwmKiB(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null; // exited between polls
  }
}

export function cliBounded(args: string[], bounds: Bounds): Promise<BoundedResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      // CPC_WEBGPU_VERBOSE runs the CLI in this process (bin/cpc-webgpu.mjs otherwise forks a child to
      // filter Dawn's start-up lines), so the RSS polled here is the CLI's own.
      env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', CPC_WEBGPU_VERBOSE: '1', ...bounds.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakRssKiB = 0;
    let killed: BoundedResult['killed'] = null;
    const kill = (why: 'timeout' | 'rss') => {
      if (killed) return;
      killed = why;
      child.kill('SIGKILL');
    };
    const poll = setInterval(() => {
      const hwm = child.pid === undefined ? null : vmHwmKiB(child.pid);
      if (hwm !== null) peakRssKiB = Math.max(peakRssKiB, hwm);
      if (peakRssKiB > bounds.maxRssKiB) kill('rss');
    }, 20);
    const timer = setTimeout(() => kill('timeout'), bounds.timeoutMs);
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      // Dawn's Vulkan warnings are not ours (as in helpers/cli.ts).
      stderr = stderr.split('\n').filter((l) => !l.startsWith('Warning: ')).join('\n');
      resolve({ code, signal, stdout, stderr, peakRssKiB, killed });
    });
  });
}
