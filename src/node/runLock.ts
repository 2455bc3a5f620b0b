// One `cpc-webgpu train` per run folder: two runs writing the same checkpoint.safetensors and
// metrics.jsonl interleave their steps and leave a checkpoint that matches neither log. The lock is a
// file naming its holder (PID and, on Linux, the process start time, so a PID reused after a crash
// or a reboot does not keep a dead run's lock alive). A lock whose holder is no longer running was
// left by a kill -9 or a crash and is taken over; nothing has to be deleted by hand.
import { unlinkSync } from 'node:fs';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CpcError } from '../runtime/errors.ts';
import { isProcessAlive } from './processAlive.ts';

export const RUN_LOCK_FILE = 'train.lock';

/** The run folder is held by another live process. */
export class RunLockedError extends CpcError {
  readonly holderPid: number;
  constructor(op: string, message: string, holderPid: number) {
    super(op, message);
    this.holderPid = holderPid;
  }
}

interface Holder { pid: number; start: string | null }

/** Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat); null where there is no /proc. */
async function processStart(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): Holder | null {
  const m = /^pid (\d+) start (\d+|unknown)\n$/.exec(text);
  return m ? { pid: Number(m[1]), start: m[2] === 'unknown' ? null : m[2]! } : null;
}

async function holderAlive(h: Holder): Promise<boolean> {
  if (!isProcessAlive(h.pid)) return false;
  if (h.start === null) return true;
  const now = await processStart(h.pid);
  return now === null || now === h.start;
}

export class RunLock {
  private held = true;
  private readonly onExit = () => this.releaseSync();
  constructor(readonly path: string) {
    // process.exit (a second Ctrl-C) skips finally blocks; the lock must not outlive the process anyway.
    process.once('exit', this.onExit);
  }

  releaseSync(): void {
    if (!this.held) return;
    this.held = false;
    process.off('exit', this.onExit);
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

/**
 * Takes `dir`/train.lock for this process, or throws RunLockedError naming the live holder.
 * File-system errors (read-only folder, no permission) are thrown as they are, for the caller to word.
 */
export async function acquireRunLock(dir: string, op = '--out'): Promise<RunLock> {
  const path = join(dir, RUN_LOCK_FILE);
  const mine = `pid ${process.pid} start ${(await processStart(process.pid)) ?? 'unknown'}\n`;
  // Written whole to a temp name, then hard-linked into place: link() fails if the lock exists, and a
  // reader never sees a half-written lock (which it could not tell from a crashed writer's).
  const tmp = join(dir, `.${RUN_LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, mine, { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, path);
        return new RunLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let text: string | null = null;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
        throw e;
      }
      const holder = parseHolder(text);
      if (holder && (await holderAlive(holder))) {
        throw new RunLockedError(op, `${dir} is in use by another \`cpc-webgpu train\` (pid ${holder.pid}, lock ${path}); ` +
          'wait for it to finish or choose another --out', holder.pid);
      }
      // The holder died without releasing it (or the file is not a lock we wrote): take it over.
      await rm(path, { force: true });
    }
    throw new RunLockedError(op, `${dir}: could not take ${path} (other processes keep taking it)`, 0);
  } finally {
    await rm(tmp, { force: true });
  }
}
