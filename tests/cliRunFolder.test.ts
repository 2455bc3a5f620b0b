// `cpc-webgpu train` and its run folder under concurrency and failure (#11 items 4, 14, 15, 16, 17):
// a second run on the same --out is refused by the lock, a dead run's lock and temp files do not
// stay, a full disk neither tears metrics.jsonl nor costs the last good checkpoint, a run failing
// right after device acquisition exits cleanly every time, and `grads` refuses non-finite gradients.
// These spawn real training on the `tiny` preset (a few seconds each on lavapipe).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointInfo } from '../src/cpc/checkpoint.ts';
import { paramShapes, resolveConfig } from '../src/cpc/config.ts';
import { initParams } from '../src/cpc/params.ts';
import { encodeSafetensors, type SafeTensor } from '../src/cpc/safetensors.ts';
import { cli, type CliResult } from './helpers/cli.ts';

let root: string;
const mounts: string[] = [];
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-runfolder-')); });
afterAll(async () => {
  for (const m of mounts) { try { execFileSync('umount', [m]); } catch { /* already gone */ } }
  await rm(root, { recursive: true, force: true });
});

function errorLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('error: '));
}

function expectOneLineError(r: CliResult, pattern: RegExp): void {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(1);
  expect(errorLines(r), r.stderr).toHaveLength(1);
  expect(errorLines(r)[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

/** A PID that is certainly not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

async function checkpointStepIn(dir: string): Promise<number> {
  const path = join(dir, 'checkpoint.safetensors');
  return readCheckpointInfo(new Uint8Array(await readFile(path)), path).step;
}

/** metrics.jsonl ends on a whole line and every line parses; returns the steps. */
async function wholeMetricsSteps(dir: string): Promise<number[]> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  if (text.length > 0) expect(text.endsWith('\n'), `torn last line: ${JSON.stringify(text.slice(-80))}`).toBe(true);
  return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { step: number }).step);
}

/** A small tmpfs (root only: the test needs a real full disk) . */
async function smallDisk(path: string, size: string): Promise<string> {
  await mkdir(path, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path]);
  mounts.push(path);
  return path;
}

/** Writes zeros into `dir` until the file system refuses: the disk is then full. */
async function fillDisk(dir: string): Promise<void> {
  const h = await open(join(dir, 'filler'), 'w');
  const chunk = new Uint8Array(4096);
  try {
    for (;;) await h.write(chunk);
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    await h.close();
  }
}

/** Runs `train` and calls `during(child)` as soon as `ready()` holds (polled every 50 ms). */
function trainWhen(args: string[], ready: () => Promise<boolean>, during: () => Promise<void>): Promise<CliResult & { fired: boolean }> {
  let fired = false;
  return new Promise((resolve) => {
    void cli(args, {
      whileRunning: (child) => {
        const poll = setInterval(() => {
          void ready().then(async (ok) => {
            if (!ok || fired) return;
            fired = true;
            clearInterval(poll);
            await during();
          }, () => undefined);
        }, 50);
        child.on('close', () => clearInterval(poll));
      },
    }).then((r) => resolve({ ...r, fired }));
  });
}

describe('run folder: lock, leftovers, full disk (tiny)', () => {
  it('a second `train --out D` started 0.3 s after the first is refused with one line; the first finishes consistently', async () => {
    const out = join(root, 'twice');
    const args = ['train', '--preset', 'tiny', '--steps', '6', '--out', out, '--json'];
    const first = cli(args);
    await new Promise((r) => setTimeout(r, 300));
    const second = cli(args);
    const results = await Promise.all([first, second]);
    const ok = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code !== 0);
    expect(ok, results.map((r) => r.stderr).join('\n---\n')).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expectOneLineError(refused[0]!, /--out: .*twice is in use by another `cpc-webgpu train` \(pid \d+/);
    expect(await checkpointStepIn(out)).toBe(6);
    expect(await wholeMetricsSteps(out)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(existsSync(join(out, 'train.lock'))).toBe(false);
  }, 180_000);

  it("a dead run's lock is taken over and its temp files are deleted; a live writer's temp file stays", async () => {
    const out = join(root, 'leftovers');
    await mkdir(out);
    const dead = await deadPid();
    await writeFile(join(out, 'train.lock'), `pid ${dead} start 1\n`);
    const deadTemp = `.checkpoint.safetensors.${dead}.0123456789ab.tmp`;
    const liveTemp = `.checkpoint.safetensors.${process.pid}.abcdef012345.tmp`;
    await writeFile(join(out, deadTemp), new Uint8Array(1 << 20));
    await writeFile(join(out, liveTemp), new Uint8Array(16));
    const r = await cli(['train', '--preset', 'tiny', '--steps', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const left = await readdir(out);
    expect(left).not.toContain(deadTemp);
    expect(left).toContain(liveTemp);
    expect(left).not.toContain('train.lock');
    expect(r.stderr).toContain(deadTemp);
    expect(await checkpointStepIn(out)).toBe(1);
  }, 120_000);

  it('a full disk stops the run with one line; the last good checkpoint stays and metrics.jsonl is not torn', async () => {
    // 2 MiB holds the lock, metrics and two copies of a tiny checkpoint (≈ 0.4 MB each: the old one
    // and the temp file of the next save). The disk is filled once the step-2 checkpoint exists.
    const disk = await smallDisk(join(root, 'disk-ckpt'), '2m');
    const out = join(disk, 'run');
    const r = await trainWhen(['train', '--preset', 'tiny', '--steps', '400', '--checkpoint-every', '2', '--out', out],
      async () => existsSync(join(out, 'checkpoint.safetensors')), () => fillDisk(disk));
    expect(r.fired).toBe(true);
    expectOneLineError(r, /no space left on the device; the last good checkpoint \(step \d+\) is kept in /);
    const kept = Number(/checkpoint \(step (\d+)\)/.exec(errorLines(r)[0]!)![1]);
    expect(await checkpointStepIn(out)).toBe(kept);
    const steps = await wholeMetricsSteps(out);
    expect(steps.length).toBeGreaterThanOrEqual(kept);
    // No temp file of the failed save is left to eat the space.
    expect((await readdir(out)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 180_000);

  it('a full disk during a metrics append cuts the torn line off and names metrics.jsonl', async () => {
    // No checkpoint before the failure: only metrics.jsonl grows, one ≈ 300-byte line per step, and
    // tmpfs refuses the first append that needs a new page: that write is torn midway.
    const disk = await smallDisk(join(root, 'disk-metrics'), '1m');
    const out = join(disk, 'run');
    const r = await trainWhen(['train', '--preset', 'tiny', '--steps', '2000', '--checkpoint-every', '100000', '--out', out],
      async () => (await readFile(join(out, 'metrics.jsonl'), 'utf8')).length > 0, () => fillDisk(disk));
    expect(r.fired).toBe(true);
    expectOneLineError(r, /cannot append to '.*metrics\.jsonl': no space left on the device; no checkpoint had been saved yet/);
    const steps = await wholeMetricsSteps(out);
    expect(steps).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
  }, 300_000);
});

describe('errors once the device exists (tiny)', () => {
  it('a run failing right after device acquisition exits with its one line every time (20 runs)', async () => {
    // The #11 repro (channels 100000, now refused by the config's own cap of 65536 before any device):
    // 60000 channels pass config validation and are refused by the device's storage binding limit
    // (one conv weight alone is 60000² · 8 · 4 B). Before the fix ~8% of such runs crashed or hung at
    // exit (SIGSEGV, abort, deadlock).
    const config = join(root, 'huge.json');
    await writeFile(config, JSON.stringify({ preset: 'tiny', channels: 60000 }));
    for (let i = 0; i < 20; i++) {
      const r = await Promise.race([
        cli(['train', '--config', config, '--steps', '2', '--out', join(root, 'huge')]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`run ${i} hung for 60 s`)), 60_000)),
      ]);
      expectOneLineError(r, /maxStorageBufferBindingSize/);
    }
  }, 20 * 60_000 + 60_000);

  it('grads with a batch that overflows the loss exits 1 naming the first non-finite tensor and writes nothing', async () => {
    const dir = await mkdtemp(join(root, 'grads-'));
    const cfg = resolveConfig('tiny', { batchSize: 2 });
    const shapes = paramShapes(cfg);
    const weights = new Map<string, SafeTensor>();
    for (const [name, data] of initParams(cfg, 5)) weights.set(name, { dtype: 'F32', shape: shapes.get(name)!, data });
    await writeFile(join(dir, 'w.safetensors'), encodeSafetensors(weights));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ preset: 'tiny' }));
    // Finite float32 input whose activations overflow (the #11 repro: 3e38 everywhere).
    const signal = new Float32Array(2 * cfg.window).fill(3e38);
    await writeFile(join(dir, 'x.safetensors'), encodeSafetensors({ signal: { dtype: 'F32', shape: [2, cfg.window], data: signal } }));
    const out = join(dir, 'g.safetensors');
    const r = await cli(['grads', '--weights', join(dir, 'w.safetensors'), '--batch', join(dir, 'x.safetensors'), '--out', out, '--config', join(dir, 'config.json')]);
    expectOneLineError(r, /^error: grads: (the loss is (NaN|-?Infinity)|gradient '[\w.]+' holds (NaN|-?Infinity) at index \d+ \(\d+ non-finite gradient values in all\)).*nothing written/);
    expect(existsSync(out)).toBe(false);
  }, 180_000);
});
