// Bad input through the real CLI (bin/cpc-webgpu.mjs), #11 items 3, 5, 6, 11, 12, 13: a table of
// crafted configs and crafted checkpoints (built on the CPU with the runtime's own checkpoint encoder),
// each run as a user would. Every one must be refused with a non-zero exit and ONE `error:` line on
// stderr that names the field or the file, no stack trace, within a wall-clock limit (no hang) and an
// RSS limit (no unbounded growth). Most are refused before a device is acquired (~1 s, ~95 MiB RSS
// measured); the few that need the trainer's layout on the device get a longer limit.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint } from '../src/cpc/checkpoint.ts';
import { PRESETS, resolveConfig, type CpcTrainConfig } from '../src/cpc/config.ts';
import { initParams, packParams, paramLayout } from '../src/cpc/params.ts';
import { DATA_META_KEY } from '../src/cli/data.ts';
import { SAMPLER_META_KEY } from '../src/cli/trainSetup.ts';
import { cliMeasured, type MeasuredResult } from './helpers/cliMeasured.ts';

// Limits. Wall clock: a refusal before the device is ~1 s on an idle machine (Node start-up included);
// 60 s leaves room for a loaded 2-core machine, and is still a hang detector (the
// 10,000-layer config took > 150 s before the fix). After the device: trainer set-up compiles shaders
// on lavapipe (seconds to a minute cold). RSS measured: ~95 MiB for a refusal before the device,
// ~290 MiB after it (Dawn + lavapipe; a whole 2-step tiny run peaks at ~560 MiB); the limits are ~4× /
// ~5× the refusals, far below the GBs an unbounded read reaches.
const PRE_DEVICE = { timeoutMs: 60_000, killAboveRssBytes: 400 * 2 ** 20 };
const ON_DEVICE = { timeoutMs: 180_000, killAboveRssBytes: 1536 * 2 ** 20 };

/** Refused: non-zero exit, one `error:` line naming `names` and matching `pattern`, no stack trace. */
function expectRefusal(r: MeasuredResult, names: string, pattern: RegExp): void {
  const what = `stderr: ${r.stderr}\nstdout: ${r.stdout}`;
  expect(r.killed, what).toBe(false);
  expect(r.killedForMemory, what).toBe(false);
  expect(r.signal, what).toBeNull();
  expect(r.code, what).not.toBe(0);
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  expect(lines, what).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toContain(names);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr + r.stdout).not.toMatch(/^\s+at /m);
  // The RSS bound is only a bound if it was measured (NaN when GNU time wrote no report).
  expect(r.maxRssBytes).toBeGreaterThan(0);
  peaks.push(r.maxRssBytes / 1024);
}

const peaks: number[] = [];

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-badcfg-')); });
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  if (peaks.length > 0) console.log(`[cliBadInputConfig] ${peaks.length} refusals, peak RSS ${Math.round(Math.min(...peaks) / 1024)}–${Math.round(Math.max(...peaks) / 1024)} MiB`);
});

const tiny = (): Record<string, unknown> => JSON.parse(JSON.stringify(PRESETS.tiny)) as Record<string, unknown>;
const layers = (n: number, k: number, s: number) => ({ kernels: new Array(n).fill(k), strides: new Array(n).fill(s) });

/** Config file text → the field the one line must name and what it must say. */
const CONFIGS: { name: string; config: unknown; field: string; says: RegExp }[] = [
  { name: 'object preset with an unknown key', config: { preset: { ...tiny(), EVIL: 1 } }, field: 'preset.EVIL', says: /unknown config field/ },
  { name: 'object preset with an unknown optimizer key', config: { preset: { ...tiny(), optimizer: { ...PRESETS.tiny.optimizer, EVIL: 1 } } }, field: 'preset.optimizer.EVIL', says: /unknown optimizer field/ },
  { name: 'numeric preset', config: { preset: 5 }, field: 'preset:', says: /must be a preset name \(tiny, small, medium, paper\) or a complete config object, got 5/ },
  { name: 'empty-object preset', config: { preset: {} }, field: 'preset:', says: /missing config fields channels/ },
  { name: 'array preset', config: { preset: [] }, field: 'preset:', says: /must be a preset name/ },
  ...[5, null, true, [], 'adam'].map((optimizer) => ({
    name: `optimizer ${JSON.stringify(optimizer)}`, config: { preset: 'tiny', optimizer }, field: 'optimizer:', says: /must be an object of optimizer fields/,
  })),
  { name: 'extra key in batch negatives', config: { preset: 'tiny', negatives: { kind: 'batch', extra: 1 } }, field: 'negatives.extra', says: /unknown 'batch' negatives field/ },
  { name: 'extra key in sampled negatives', config: { preset: 'tiny', negatives: { kind: 'sampled', n: 4, k: 2 } }, field: 'negatives.k', says: /unknown 'sampled' negatives field/ },
  { name: 'channels 1e300', config: { preset: 'tiny', channels: 1e300 }, field: 'channels:', says: /must be an integer in \[4, 65536\], got 1e\+300/ },
  { name: 'channels 100000', config: { preset: 'tiny', channels: 100000 }, field: 'channels:', says: /must be an integer in \[4, 65536\]/ },
  { name: 'window 1e9', config: { preset: 'tiny', window: 1e9 }, field: 'window:', says: /must be an integer in \[1, 268435456\] \(samples\), got 1000000000/ },
  { name: '10,000 pointwise encoder layers', config: { preset: 'tiny', ...layers(10_000, 1, 1) }, field: 'kernels:', says: /array of 1 to 64 entries \(encoder layers\), got an array of length 10000/ },
  { name: '10,000 kernel-2 layers', config: { preset: 'tiny', ...layers(10_000, 2, 1) }, field: 'kernels:', says: /array of 1 to 64 entries/ },
  { name: '40 stride-2 layers (window too short)', config: { preset: 'tiny', ...layers(40, 2, 2) }, field: 'window:', says: /10240 samples give 0 frames/ },
  { name: 'seed 1.5', config: { preset: 'tiny', seed: 1.5 }, field: 'seed:', says: /integer in \[0, 4294967295\]/ },
];

describe('crafted configs: train --config', () => {
  for (const c of CONFIGS) {
    it(`refuses ${c.name}`, async () => {
      const dir = await mkdtemp(join(root, 'cfg-'));
      const file = join(dir, 'config.json');
      await writeFile(file, JSON.stringify(c.config));
      const r = await cliMeasured(['train', '--config', file, '--steps', '2', '--out', join(dir, 'run')], PRE_DEVICE);
      expectRefusal(r, c.field, c.says);
      // The one line names the file too.
      expect(r.stderr).toContain(file);
    }, PRE_DEVICE.timeoutMs + 10_000);
  }
});

/** A valid `tiny` run checkpoint at `step`, built like train writes it, with metadata / moments edited. */
function craftedCheckpoint(opts: { sampler?: string; config?: unknown; v?: (v: Float32Array) => void; step?: number } = {}): Uint8Array {
  const cfg = resolveConfig('tiny');
  const layout = paramLayout(cfg);
  const step = opts.step ?? 2;
  const v = new Float32Array(layout.total).fill(1e-6);
  opts.v?.(v);
  const params = packParams(layout, initParams(cfg, cfg.seed));
  const written = (opts.config ?? cfg) as CpcTrainConfig;
  return encodeCheckpoint(written, layout, step, { params, m: new Float32Array(layout.total), v }, {
    [SAMPLER_META_KEY]: opts.sampler ?? JSON.stringify({ rng: 12345, batches: step }),
    [DATA_META_KEY]: JSON.stringify({ kind: 'synthetic', seed: 0 }),
  });
}

const withConfig = (edit: (c: Record<string, unknown>) => void): Record<string, unknown> => {
  const c = tiny();
  edit(c);
  return c;
};

/** Crafted checkpoint → which commands see it, and what the one line must say. */
const CHECKPOINTS: { name: string; bytes: () => Uint8Array; on: ('resume' | 'eval')[]; says: RegExp; onDevice?: boolean }[] = [
  ...['1e400', '-1.5', '4294967296', '"12"', 'null', '1.5'].map((rng) => ({
    name: `sampler rng ${rng}`, bytes: () => craftedCheckpoint({ sampler: `{"rng":${rng},"batches":2}` }), on: ['resume' as const],
    says: /'cpc\.sampler' rng must be a uint32/,
  })),
  { name: 'sampler batches 1e400', bytes: () => craftedCheckpoint({ sampler: '{"rng":1,"batches":1e400}' }), on: ['resume'], says: /'cpc\.sampler' batches must be an integer ≥ 0, got Infinity/ },
  { name: 'sampler state an array', bytes: () => craftedCheckpoint({ sampler: '[1, 2]' }), on: ['resume'], says: /'cpc\.sampler' metadata is not a sampler state/ },
  {
    name: 'a negative Adam second moment', bytes: () => craftedCheckpoint({ v: (v) => { v[100] = -3; } }), on: ['eval'],
    says: /tensor 'adam\.v\.[\w.]+' holds a negative second moment -3 at index/,
  },
  {
    name: 'a negative Adam second moment (resume: checked on the trainer\'s layout)', bytes: () => craftedCheckpoint({ v: (v) => { v[100] = -3; } }), on: ['resume'],
    says: /negative second moment -3/, onDevice: true,
  },
  { name: 'an unknown key in the stored config', bytes: () => craftedCheckpoint({ config: { ...tiny(), EVIL: 1 } }), on: ['resume', 'eval'], says: /invalid config in the metadata: .*EVIL: unknown config field/ },
  { name: 'stored optimizer 5', bytes: () => craftedCheckpoint({ config: withConfig((c) => { c.optimizer = 5; }) }), on: ['resume', 'eval'], says: /optimizer: must be an object/ },
  { name: 'stored negatives with an extra key', bytes: () => craftedCheckpoint({ config: withConfig((c) => { c.negatives = { kind: 'batch', n2: 1 }; }) }), on: ['resume', 'eval'], says: /negatives\.n2/ },
  { name: 'stored channels 1e300', bytes: () => craftedCheckpoint({ config: withConfig((c) => { c.channels = 1e300; }) }), on: ['resume', 'eval'], says: /channels: must be an integer in \[4, 65536\]/ },
  { name: 'stored 10,000 encoder layers', bytes: () => craftedCheckpoint({ config: withConfig((c) => Object.assign(c, layers(10_000, 1, 1))) }), on: ['resume', 'eval'], says: /kernels: must be an array of 1 to 64 entries/ },
];

describe('crafted checkpoints: train --resume and eval --checkpoint', () => {
  for (const c of CHECKPOINTS) {
    for (const cmd of c.on) {
      const bounds = c.onDevice ? ON_DEVICE : PRE_DEVICE;
      it(`${cmd} refuses ${c.name}`, async () => {
        const dir = await mkdtemp(join(root, 'ckpt-'));
        await mkdir(dir, { recursive: true });
        const file = join(dir, 'checkpoint.safetensors');
        await writeFile(file, c.bytes());
        const args = cmd === 'resume' ? ['train', '--out', dir, '--resume', '--steps', '3'] : ['eval', '--checkpoint', file, '--max-windows', '8'];
        expectRefusal(await cliMeasured(args, bounds), file, c.says);
      }, bounds.timeoutMs + 10_000);
    }
  }

  it('the untouched crafted checkpoint is accepted (the table above edits one thing each)', async () => {
    const dir = await mkdtemp(join(root, 'ckpt-ok-'));
    await writeFile(join(dir, 'checkpoint.safetensors'), craftedCheckpoint());
    const r = await cliMeasured(['train', '--out', dir, '--resume', '--steps', '3'], ON_DEVICE);
    expect(r.code, r.stderr).toBe(0);
  }, ON_DEVICE.timeoutMs + 10_000);
});

describe('other subcommands', () => {
  it('bench --only with an unknown suite is one line listing the suites', async () => {
    expectRefusal(await cliMeasured(['bench', '--only', 'nope'], PRE_DEVICE), '--only', /unknown suite 'nope' \(known: conv, gru, infonce/);
  }, PRE_DEVICE.timeoutMs + 10_000);

  it('bench --presets with an unknown preset is one line listing the presets, before any GPU work', async () => {
    expectRefusal(await cliMeasured(['bench', '--e2e', '--presets', 'tiny,huge'], PRE_DEVICE), '--presets', /unknown preset 'huge' \(known: tiny, small, medium, paper\)/);
  }, PRE_DEVICE.timeoutMs + 10_000);

  it('bench --no-tune without the e2e suite is one line saying what it applies to, before any GPU work', async () => {
    expectRefusal(await cliMeasured(['bench', '--only', 'conv', '--no-tune'], PRE_DEVICE), '--no-tune', /applies only to the e2e suite \(add --e2e\)/);
  }, PRE_DEVICE.timeoutMs + 10_000);

  it('grads -h does not crash (help text or a one-line usage error, no stack trace)', async () => {
    const r = await cliMeasured(['grads', '-h'], PRE_DEVICE);
    expect(r.killed).toBe(false);
    expect(r.signal).toBeNull();
    expect(r.stderr + r.stdout).not.toMatch(/^\s+at /m);
    if (r.code !== 0) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, PRE_DEVICE.timeoutMs + 10_000);
});
