// Runs the real CLI like helpers/cli.ts, under a kill timeout and with the child's peak RSS measured
// by GNU time (`/usr/bin/time`, Debian package `time`): what the bad-input soak tests bound.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, withoutDawnWarnings, type CliResult } from './cli.ts';

export const GNU_TIME = '/usr/bin/time';

export interface MeasuredResult extends CliResult {
  /** Peak resident set size of the CLI process, bytes. */
  maxRssBytes: number;
  wallMs: number;
  /** True when the kill timeout fired (the command hung or was far too slow). */
  killed: boolean;
  /** True when the command was killed for passing `killAboveRssBytes`. */
  killedForMemory: boolean;
  /** stderr including Dawn's notices: they appear only once a device was acquired. */
  rawStderr: string;
}

/** Resident set size of the processes directly under `pid` (GNU time's child: the CLI), bytes. */
function childrenRss(pid: number): number {
  let total = 0;
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    }
  } catch {
    // the process is gone or has not started its child yet
  }
  return total;
}

/**
 * `killAboveRssBytes`: a runaway read (e.g. of /dev/zero, ≈ 300 MB/s) is killed once it passes this,
 * polled every 100 ms, so a regression fails the test instead of exhausting a shared machine.
 */
export async function cliMeasured(
  args: string[], opts: { timeoutMs: number; env?: Record<string, string>; uid?: number; killAboveRssBytes?: number },
): Promise<MeasuredResult> {
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} is missing: apt-get install -y time`);
  const dir = await mkdtemp(join(tmpdir(), 'cpc-rss-'));
  // GNU time runs as opts.uid too and must be able to write its report here.
  if (opts.uid !== undefined) await chmod(dir, 0o777);
  const rssFile = join(dir, 'rss');
  const t0 = performance.now();
  try {
    let rawStderr = '';
    let killedForMemory = false;
    const r = await new Promise<CliResult & { killed: boolean; rawStderr: string }>((resolve, reject) => {
      const child = spawn(GNU_TIME, ['-f', '%M', '-o', rssFile, process.execPath, BIN, ...args], {
        // CPC_WEBGPU_VERBOSE runs the CLI in GNU time's child itself (bin/cpc-webgpu.mjs otherwise forks
        // a child to filter Dawn's start-up lines): the RSS watch sees the CLI, and rawStderr keeps
        // Dawn's notices, which tell whether a device was acquired.
        env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', CPC_WEBGPU_VERBOSE: '1', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Own process group: on timeout the whole group (GNU time and the node under it) is killed.
        detached: true,
        ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
      });
      let killed = false;
      const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
      const timer = setTimeout(() => { killed = true; killGroup(); }, opts.timeoutMs);
      const limit = opts.killAboveRssBytes;
      const watch = limit === undefined ? undefined : setInterval(() => {
        if (childrenRss(child.pid!) > limit) { killedForMemory = true; killGroup(); }
      }, 100);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearInterval(watch);
        rawStderr = stderr;
        resolve({ code, signal, stdout, stderr: withoutDawnWarnings(stderr), killed, rawStderr });
      });
    });
    const wallMs = performance.now() - t0;
    let maxRssBytes = Number.NaN;
    try {
      // GNU time appends "Command exited with non-zero status N" before the number: take the last line.
      const lines = (await readFile(rssFile, 'utf8')).trim().split('\n');
      maxRssBytes = Number(lines[lines.length - 1]) * 1024;
    } catch {
      // killed before GNU time wrote it: maxRssBytes stays NaN, and the caller's bound fails visibly
    }
    return { ...r, maxRssBytes, wallMs, killedForMemory };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The lines a user sees on stderr (no trailing empty line). */
export function stderrLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '');
}
