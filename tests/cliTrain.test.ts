// The `cpc-webgpu train` / `eval` commands, run as real processes (bin/cpc-webgpu.mjs) on the `tiny`
// preset: train → eval, resume after a lost device reproduces the uninterrupted losses bit for bit,
// Ctrl-C saves and exits 130, a non-finite loss keeps the last good checkpoint, and bad presets,
// configs and checkpoints are refused with one clear line. Each GPU spawn costs a device and the
// trainer's pipelines (~2–5 s for tiny on lavapipe); the refusal cases fail before a device is acquired.
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointInfo } from '../src/cpc/checkpoint.ts';
import { cli, lastJson, type CliResult } from './helpers/cli.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { makeWav } from './helpers/wavData.ts';

interface MetricsRow { step: number; loss: number; acc: number[]; loss_per_k: number[]; lr: number; steps_per_s: number | null }

async function metricsOf(dir: string): Promise<MetricsRow[]> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as MetricsRow);
}

async function checkpointStep(dir: string): Promise<number> {
  const path = join(dir, 'checkpoint.safetensors');
  return readCheckpointInfo(new Uint8Array(await readFile(path)), path).step;
}

/** No Node stack trace in what the user sees. */
function expectCleanError(r: CliResult, pattern: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(r.stderr).toMatch(/^error: /m);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-cli-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

// No warm-up and a higher rate so 16 steps of `tiny` move the loss visibly (≈0.04): the resume
// comparison then checks losses that depend on every batch and every update, not a loss stuck at ln B.
const RESUME_CONFIG = { preset: 'tiny', optimizer: { warmupSteps: 0, lr: 0.005 } };
const RESUME_STEPS = 16;

describe('cpc-webgpu train / eval (tiny)', () => {
  let baseline: MetricsRow[] = [];
  let configPath = '';

  it('trains, logs every step and writes a checkpoint; eval probes it against random init', async () => {
    configPath = join(root, 'resume-config.json');
    await writeFile(configPath, JSON.stringify(RESUME_CONFIG));
    const out = join(root, 'full');
    const r = await cli(['train', '--config', configPath, '--steps', String(RESUME_STEPS), '--out', out, '--json', '--no-probe']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJson(r.stdout);
    expect(summary.steps).toBe(RESUME_STEPS);
    expect(summary.checkpoint).toBe(join(out, 'checkpoint.safetensors'));
    expect(Number.isFinite(summary.final_loss)).toBe(true);
    expect(Number.isFinite(summary.first_loss)).toBe(true);
    expect(summary.steps_per_s as number).toBeGreaterThan(0);
    expect(summary.cpc_chance).toBe(1 / 8); // tiny: batch negatives, B = 8
    expect(r.stderr).toMatch(/chance 1\/B = 0\.125 with batch negatives/);
    expect(await checkpointStep(out)).toBe(RESUME_STEPS);

    baseline = await metricsOf(out);
    expect(baseline.map((m) => m.step)).toEqual(Array.from({ length: RESUME_STEPS }, (_, i) => i + 1));
    for (const m of baseline) {
      expect(m.acc).toHaveLength(4);
      expect(m.loss_per_k).toHaveLength(4);
      expect(Number.isFinite(m.lr)).toBe(true);
    }
    // The comparison below is only meaningful if training moved the loss.
    expect(Math.abs(baseline[0]!.loss - baseline[RESUME_STEPS - 1]!.loss)).toBeGreaterThan(0.01);

    const e = await cli(['eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--json', '--max-windows', '48']);
    expect(e.code, e.stderr).toBe(0);
    const report = lastJson(e.stdout);
    const random = report.random_init as Record<string, unknown>;
    const mfcc = report.mfcc as Record<string, unknown>;
    for (const acc of [report.phone_acc, report.speaker_acc, random.phone_acc, random.speaker_acc, mfcc.phone_acc, mfcc.speaker_acc]) {
      expect(typeof acc).toBe('number');
      expect(acc as number).toBeGreaterThanOrEqual(0);
      expect(acc as number).toBeLessThanOrEqual(1);
    }
    const speaker = report.speaker as { test_acc: number; test_ci: [number, number]; train_acc: number };
    expect(speaker.test_ci[0]).toBeLessThanOrEqual(speaker.test_acc);
    expect(speaker.test_ci[1]).toBeGreaterThanOrEqual(speaker.test_acc);
    expect(['above', 'below', 'overlap']).toContain((report.verdicts as { speaker: { vs_mfcc: string } }).speaker.vs_mfcc);
    expect(report.step).toBe(RESUME_STEPS);
    expect([report.features, random.features, mfcc.features]).toEqual(['c', 'c', 'mfcc']);

    // --layer z probes the encoder output instead, for the trained model and its random init alike.
    const ez = await cli(['eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--layer', 'z', '--max-windows', '48']);
    expect(ez.code, ez.stderr).toBe(0);
    expect(ez.stdout).toMatch(/trained \(z\)\s+random init \(z\)\s+MFCC/);
    expect(ez.stderr).toMatch(/probing z/);
    expectCleanError(await cli(['eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--layer', 'x']), /--layer must be z or c, got 'x'/);
  }, 300_000);

  it('after a lost device the last checkpoint is intact and --resume gives bitwise the same losses', async () => {
    const out = join(root, 'lost');
    const lost = await cli(['train', '--config', configPath, '--steps', String(RESUME_STEPS), '--out', out, '--checkpoint-every', '5', '--json'], {
      env: { CPC_WEBGPU_FAULT: 'lose-device@11' },
    });
    expectCleanError(lost, /device was lost/);
    expect(lost.stderr).toMatch(/last checkpoint \(step 10\)/);
    expect(await checkpointStep(out)).toBe(10);

    const resumed = await cli(['train', '--out', out, '--resume', '--steps', String(RESUME_STEPS), '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout).steps).toBe(RESUME_STEPS);
    const rows = await metricsOf(out);
    expect(rows.map((m) => m.step)).toEqual(baseline.map((m) => m.step));
    // JSON round-trips float32 values exactly, so equal numbers are equal bits.
    expect(rows.map((m) => m.loss)).toEqual(baseline.map((m) => m.loss));
    expect(rows.map((m) => m.acc)).toEqual(baseline.map((m) => m.acc));
  }, 120_000);

  it('Ctrl-C finishes the step, saves and exits 130; a non-finite loss keeps the last good checkpoint', async () => {
    const out = join(root, 'sigint');
    let sent = false;
    const r = await cli(['train', '--preset', 'tiny', '--steps', '100000', '--out', out, '--json'], {
      whileRunning: (child) => {
        // Interrupt once a few steps are logged, i.e. mid-run.
        const poll = setInterval(() => {
          void metricsOf(out).then((rows) => {
            if (rows.length >= 3 && !sent) { sent = true; clearInterval(poll); child.kill('SIGINT'); }
          }, () => undefined);
        }, 200);
        child.on('close', () => clearInterval(poll));
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    const summary = lastJson(r.stdout);
    expect(summary.interrupted).toBe(true);
    expect(await checkpointStep(out)).toBe(summary.steps);
    expect(summary.checkpoint_step).toBe(summary.steps);

    const nan = join(root, 'nonfinite');
    const bad = await cli(['train', '--preset', 'tiny', '--steps', '8', '--out', nan, '--checkpoint-every', '2'], {
      env: { CPC_WEBGPU_FAULT: 'blowup@5' },
    });
    expectCleanError(bad, /non-finite (loss|gradient norm|loss and gradient norm|a gradient) at step 5/);
    expect(bad.stderr).toMatch(/last good checkpoint \(step 4\)/);
    expect(await checkpointStep(nan)).toBe(4);
  }, 120_000);

  it('trains and evaluates on a WAV folder (speaker probe only), skipping a malformed file by name', async () => {
    const dir = await mkdirp(join(root, 'wavs'));
    const rng = new Rng(3);
    for (const [s, hz] of [[0, 180], [1, 260], [2, 390]] as const) {
      for (let u = 0; u < 3; u++) {
        const x = new Float64Array(24000);
        for (let i = 0; i < x.length; i++) {
          const t = i / 16000;
          x[i] = 0.3 * Math.sin(2 * Math.PI * hz * t) + 0.1 * Math.sin(2 * Math.PI * 3 * hz * t + u) + 0.02 * rng.normal();
        }
        await writeFile(join(dir, `spk${s}_${u}.wav`), makeWav(16000, '16', [x]).bytes);
      }
    }
    await writeFile(join(dir, 'broken.wav'), 'RIFF\x00\x00\x00\x00WAVEjunk');
    const out = join(root, 'wavrun');
    const r = await cli(['train', '--preset', 'tiny', '--data', dir, '--steps', '3', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipping broken\.wav/);
    expect(lastJson(r.stdout).data).toBe(dir);

    // eval takes the data folder from the checkpoint's metadata.
    const e = await cli(['eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--json']);
    expect(e.code, e.stderr).toBe(0);
    const report = lastJson(e.stdout);
    expect(report).not.toHaveProperty('phone_acc');
    expect(typeof report.speaker_acc).toBe('number');
    expect(typeof (report.random_init as Record<string, unknown>).speaker_acc).toBe('number');
  }, 120_000);

  it('refuses bad presets, configs and flags with one clear line', async () => {
    const out = join(root, 'refused');
    expectCleanError(await cli(['train', '--preset', 'huge', '--out', out]), /unknown preset 'huge'/);

    const notJson = join(root, 'bad.json');
    await writeFile(notJson, '{"channels": 64,');
    expectCleanError(await cli(['train', '--config', notJson, '--out', out]), /bad\.json.*not valid JSON/);

    const badField = join(root, 'odd-channels.json');
    await writeFile(badField, JSON.stringify({ preset: 'tiny', channels: 30 }));
    expectCleanError(await cli(['train', '--config', badField, '--out', out]), /channels.*multiple of 4/);

    const typo = join(root, 'typo.json');
    await writeFile(typo, JSON.stringify({ preset: 'tiny', chanels: 32 }));
    expectCleanError(await cli(['train', '--config', typo, '--out', out]), /chanels.*unknown config field/);

    expectCleanError(await cli(['train', '--config', join(root, 'missing.json'), '--out', out]), /missing\.json.*no such file/);
    expectCleanError(await cli(['train', '--preset', 'tiny', '--steps', 'many', '--out', out]), /--steps/);
    expectCleanError(await cli(['train', '--out', out, '--resume']), /nothing to resume/);
    // Nothing was created by the refused runs.
    await expect(stat(join(out, 'checkpoint.safetensors'))).rejects.toThrow();
  }, 60_000);

  it('refuses a corrupt or foreign checkpoint on --resume and in eval, and never clobbers a run', async () => {
    const good = join(root, 'full', 'checkpoint.safetensors');
    const bytes = await readFile(good);

    const truncated = join(root, 'truncated');
    await rm(truncated, { recursive: true, force: true });
    await writeFile(join(await mkdirp(truncated), 'checkpoint.safetensors'), bytes.subarray(0, bytes.length - 1000));
    expectCleanError(await cli(['train', '--out', truncated, '--resume']), /truncated\/checkpoint\.safetensors/);

    const garbage = join(root, 'garbage');
    await writeFile(join(await mkdirp(garbage), 'checkpoint.safetensors'), 'this is not a checkpoint at all');
    expectCleanError(await cli(['train', '--out', garbage, '--resume']), /garbage\/checkpoint\.safetensors/);
    expectCleanError(await cli(['eval', '--checkpoint', join(garbage, 'checkpoint.safetensors')]), /garbage\/checkpoint\.safetensors/);

    // Same-length edits inside the JSON header (the config is a JSON string in the metadata, so its
    // quotes are escaped there): a config no model can have, and a missing data sampler state.
    const text = bytes.toString('latin1');
    const tamper = async (name: string, from: RegExp, to: string) => {
      const edited = text.replace(from, to);
      expect(edited).not.toBe(text);
      const dir = join(root, name);
      await writeFile(join(await mkdirp(dir), 'checkpoint.safetensors'), Buffer.from(edited, 'latin1'));
      return dir;
    };
    const badConfig = await tamper('tampered-config', /\\"channels\\":32/, '\\"channels\\":30');
    expectCleanError(await cli(['train', '--out', badConfig, '--resume']), /invalid config.*channels/);
    const noSampler = await tamper('tampered-sampler', /"cpc\.sampler"/, '"cpc.sampleX"');
    expectCleanError(await cli(['train', '--out', noSampler, '--resume']), /no 'cpc\.sampler' metadata/);
    // A weights-only file (no config in it) needs --config, and one that matches its tensors.
    const weightsOnly = join(await tamper('weights-only', /"config"/, '"confiX"'), 'checkpoint.safetensors');
    expectCleanError(await cli(['eval', '--checkpoint', weightsOnly]), /no 'config' in the metadata.*--config/);
    const small = join(root, 'small.json');
    await writeFile(small, JSON.stringify({ preset: 'small' }));
    expectCleanError(await cli(['eval', '--checkpoint', weightsOnly, '--config', small]), /encoder\.0\.weight' has shape \[32, 1, 10\]; this model needs \[64, 1, 10\]/);

    // A fresh run never overwrites an existing run's checkpoint unless asked to.
    const existing = join(root, 'existing');
    await copyFile(good, join(await mkdirp(existing), 'checkpoint.safetensors'));
    expectCleanError(await cli(['train', '--preset', 'tiny', '--out', existing]), /already exists.*--resume.*--overwrite/);
    // --resume refuses flags that would change the run's config (its own preset is accepted: tests/cliConventions.test.ts).
    expectCleanError(await cli(['train', '--out', existing, '--resume', '--preset', 'small']), /--preset: 'small' is not the config of .*drop --preset/);
    expectCleanError(await cli(['train', '--out', existing, '--resume', '--seed', '3']), /--seed.*cannot be combined with --resume/);
  }, 60_000);
});

async function mkdirp(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}
