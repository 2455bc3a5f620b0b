// Bad-input soak for the CLI's file handling (#11: 2 GiB checkpoints, unbounded `grads` reads,
// header blow-ups, directories / FIFOs / devices / unreadable files, unusable run folders, a held
// run-folder lock). Each crafted input must give: exit code 1, exactly one line on stderr that names
// the input, no stack trace, an answer before the kill timeout, and a bounded peak RSS. Every case
// here is refused before a GPU device is acquired (asserted: Dawn prints its notices only once a
// device exists), so each costs one Node start (~1–2 s with tsx), not a trainer.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../src/cpc/safetensors.ts';
import { cliMeasured, stderrLines, type MeasuredResult } from './helpers/cliMeasured.ts';

/** Well above a refused command's ~150–250 MB (Node + tsx + the CLI's modules), far below a runaway read. */
const RSS_LIMIT = 600 * 2 ** 20;
/** Generous for a loaded 2-core machine and a cold tsx cache; a hang (the FIFO case) never ends. */
const KILL_MS = 60_000;

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-badio-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

function expectOneLineRefusal(r: MeasuredResult, names: string, pattern: RegExp, rssLimit = RSS_LIMIT): void {
  const lines = stderrLines(r);
  expect(r.killedForMemory, `killed above ${(rssLimit / 2 ** 20).toFixed(0)} MiB of RSS`).toBe(false);
  expect(r.killed, `killed after ${KILL_MS} ms (hang)`).toBe(false);
  expect(r.code, r.stderr).toBe(1);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toContain(names);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  // Dawn's "Warning: …" notices come with device creation: none means refused before the device.
  expect(r.rawStderr).not.toMatch(/^Warning: /m);
  expect(r.maxRssBytes, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(rssLimit);
}

async function fifo(path: string): Promise<string> {
  execFileSync('mkfifo', [path]);
  return path;
}

/** A safetensors file whose header lists `count` zero-size tensors (valid, but no config needs them). */
async function headerBomb(path: string, count: number): Promise<string> {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
  const json = Buffer.from(`{${parts.join(',')}}`);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  await writeFile(path, Buffer.concat([prefix, json]));
  return path;
}

/** A directory nothing can be created in: a read-only tmpfs as root (root ignores mode bits), else mode 555. */
async function readOnlyDir(path: string): Promise<string> {
  await mkdir(path);
  if (process.getuid?.() === 0) execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', path]);
  else execFileSync('chmod', ['555', path]);
  return path;
}

describe('CLI bad-input soak: files and run folders', () => {
  const cases: [string, () => Promise<{ args: string[]; names: string; pattern: RegExp; uid?: number }>][] = [
    ['eval --checkpoint DIR', async () => {
      const d = join(root, 'ckpt-dir'); await mkdir(d);
      return { args: ['eval', '--checkpoint', d], names: d, pattern: /a directory, not a regular file/ };
    }],
    ['eval --checkpoint FIFO (no writer: must not block)', async () => {
      const f = await fifo(join(root, 'ckpt.fifo'));
      return { args: ['eval', '--checkpoint', f], names: f, pattern: /FIFO/ };
    }],
    ['eval --checkpoint /dev/zero', async () => ({ args: ['eval', '--checkpoint', '/dev/zero'], names: '/dev/zero', pattern: /character device/ })],
    ['eval --checkpoint unreadable (as another user)', async () => {
      const f = join(root, 'secret.safetensors');
      await writeFile(f, encodeSafetensors({}), { mode: 0o000 });
      execFileSync('chmod', ['000', f]);
      // Root reads anything: run the CLI as nobody so the permission check is real.
      return { args: ['eval', '--checkpoint', f], names: f, pattern: /permission denied/, uid: process.getuid?.() === 0 ? 65534 : undefined };
    }],
    ['eval --checkpoint header of 1 M zero-size tensors', async () => {
      const f = await headerBomb(join(root, 'bomb.safetensors'), 1_000_000);
      return { args: ['eval', '--checkpoint', f], names: f, pattern: /header length \d+ exceeds the 1048576-byte limit for a checkpoint/ };
    }],
    ['train --resume with a header-bomb checkpoint', async () => {
      const d = join(root, 'bomb-run'); await mkdir(d);
      await headerBomb(join(d, 'checkpoint.safetensors'), 1_000_000);
      return { args: ['train', '--out', d, '--resume'], names: join(d, 'checkpoint.safetensors'), pattern: /exceeds the 1048576-byte limit/ };
    }],
    ['train --resume with a FIFO checkpoint', async () => {
      const d = join(root, 'fifo-run'); await mkdir(d);
      await fifo(join(d, 'checkpoint.safetensors'));
      return { args: ['train', '--out', d, '--resume'], names: join(d, 'checkpoint.safetensors'), pattern: /FIFO/ };
    }],
    ['train --resume with a directory as checkpoint', async () => {
      const d = join(root, 'dir-run'); await mkdir(join(d, 'checkpoint.safetensors'), { recursive: true });
      return { args: ['train', '--out', d, '--resume'], names: join(d, 'checkpoint.safetensors'), pattern: /a directory/ };
    }],
    ['grads --weights /dev/zero', async () => {
      const x = join(root, 'x.safetensors');
      await writeFile(x, encodeSafetensors({ signal: { dtype: 'F32', shape: [2, 10240], data: new Float32Array(2 * 10240) } }));
      return { args: ['grads', '--weights', '/dev/zero', '--batch', x, '--out', join(root, 'g.safetensors')], names: '/dev/zero', pattern: /--weights.*character device/ };
    }],
    ['grads --batch FIFO', async () => {
      const w = join(root, 'w-ok.safetensors'); await writeFile(w, encodeSafetensors({}));
      const f = await fifo(join(root, 'batch.fifo'));
      return { args: ['grads', '--weights', w, '--batch', f, '--out', join(root, 'g2.safetensors')], names: f, pattern: /--batch.*FIFO/ };
    }],
    ['grads --weights DIR', async () => {
      const d = join(root, 'weights-dir'); await mkdir(d);
      return { args: ['grads', '--weights', d, '--batch', d, '--out', join(root, 'g3.safetensors')], names: d, pattern: /a directory/ };
    }],
    ['train --out an existing file', async () => {
      const f = join(root, 'not-a-folder'); await writeFile(f, 'x');
      return { args: ['train', '--preset', 'tiny', '--steps', '1', '--out', f], names: f, pattern: /--out: cannot create the run folder .*not a folder/ };
    }],
    ['train --out below a file (uncreatable)', async () => {
      const f = join(root, 'plain-file'); await writeFile(f, 'x');
      const d = join(f, 'run');
      return { args: ['train', '--preset', 'tiny', '--steps', '1', '--out', d], names: d, pattern: /--out: cannot create the run folder/ };
    }],
    ['train --out a read-only folder', async () => {
      const d = await readOnlyDir(join(root, 'ro'));
      return { args: ['train', '--preset', 'tiny', '--steps', '1', '--out', d], names: d, pattern: /--out: cannot write in the run folder .*(read-only file system|permission denied)/ };
    }],
    ['train --out a folder locked by a live run', async () => {
      const d = join(root, 'locked'); await mkdir(d);
      // This test process plays the live run: its PID and start time, in the lock's format.
      const stat = await readFile(`/proc/${process.pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      await writeFile(join(d, 'train.lock'), `pid ${process.pid} start ${start}\n`);
      return { args: ['train', '--preset', 'tiny', '--steps', '1', '--out', d], names: d, pattern: new RegExp(`in use by another .*pid ${process.pid}`) };
    }],
  ];

  for (const [name, make] of cases) {
    it(name, async () => {
      const c = await make();
      const r = await cliMeasured(c.args, { timeoutMs: KILL_MS, uid: c.uid, killAboveRssBytes: RSS_LIMIT });
      expectOneLineRefusal(r, c.names, c.pattern);
    }, KILL_MS + 30_000);
  }

  afterAll(() => {
    try { execFileSync('umount', [join(root, 'ro')]); } catch { /* not mounted (non-root run) */ }
  });

  it('a checkpoint of exactly 2 GiB is read (in pieces) and refused with one line, not a native abort', async () => {
    // Sparse: 2 GiB of zeros costs no disk. The whole file is read (it is within the 2 GiB limit), so
    // the RSS bound is the file plus the refused-command budget; the header (length 0) is then refused.
    const f = join(root, 'two-gib.safetensors');
    const h = await open(f, 'w');
    await h.truncate(2 * 1024 ** 3);
    await h.close();
    const r = await cliMeasured(['eval', '--checkpoint', f], { timeoutMs: KILL_MS * 2, killAboveRssBytes: 2 * 1024 ** 3 + RSS_LIMIT });
    expectOneLineRefusal(r, f, /header length is 0/, 2 * 1024 ** 3 + RSS_LIMIT);
  }, KILL_MS * 2 + 30_000);
});
