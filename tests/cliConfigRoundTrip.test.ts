// Whatever `train` accepts, the checkpoint it writes must load (#11.3): each accepted config shape is
// trained for 2 steps through the real CLI, then resumed to step 3 and evaluated. A config train
// refuses is fine (one clean line); a config it accepts whose run cannot be resumed is the bug. Also
// the non-finite stop (#11.6) on data the lr is innocent of: a float WAV of amplitude 1e30.
// Each GPU spawn costs a device and the tiny trainer's pipelines (~2–5 s on lavapipe).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESETS } from '../src/cpc/config.ts';
import { cli, lastJson } from './helpers/cli.ts';
import { makeWav } from './helpers/wavData.ts';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-roundtrip-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

const tiny = (): Record<string, unknown> => JSON.parse(JSON.stringify(PRESETS.tiny)) as Record<string, unknown>;

const SHAPES: { name: string; config: Record<string, unknown>; accepted: boolean }[] = [
  { name: 'a complete object preset', config: { preset: { ...tiny(), seed: 5 } }, accepted: true },
  { name: 'an object preset plus overrides', config: { preset: tiny(), optimizer: { maxGradNorm: null, warmupSteps: 0 } }, accepted: true },
  // (Other negatives modes and norm layers round-trip the same way in tests/config.test.ts; here they
  // would only add minutes of shader compilation on a cold lavapipe cache.)
  { name: 'a named preset with optimizer and seed overrides', config: { preset: 'tiny', seed: 3, optimizer: { decoupled: true, weightDecay: 0.01, lr: 0.003 } }, accepted: true },
  // Trained before the fix, and its checkpoint was then refused by --resume and eval.
  { name: 'an object preset with an unknown key', config: { preset: { ...tiny(), EVIL: 1 } }, accepted: false },
];

describe('train → --resume → eval for every accepted config shape', () => {
  for (const s of SHAPES) {
    it(`${s.name}: ${s.accepted ? 'trains, resumes and evaluates' : 'is refused by train'}`, async () => {
      const dir = await mkdtemp(join(root, 'rt-'));
      const file = join(dir, 'config.json');
      await writeFile(file, JSON.stringify(s.config));
      const out = join(dir, 'run');
      const t = await cli(['train', '--config', file, '--steps', '2', '--out', out, '--json']);
      if (!s.accepted) {
        expect(t.code, t.stderr).not.toBe(0);
        expect(t.stderr.trim().split('\n')).toHaveLength(1);
        expect(t.stderr).toMatch(/^error: .*EVIL: unknown config field/);
        return;
      }
      expect(t.code, t.stderr).toBe(0);
      const r = await cli(['train', '--out', out, '--resume', '--steps', '3', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(lastJson(r.stdout).steps).toBe(3);
      const e = await cli(['eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--max-windows', '16', '--json']);
      expect(e.code, e.stderr).toBe(0);
      expect(typeof lastJson(e.stdout).speaker_acc).toBe('number');
    }, 300_000);
  }
});

describe('loud float audio', () => {
  // Before the corpus reader (#13) a float WAV of amplitude 1e30 overflowed to a non-finite loss and
  // the message blamed the lr. Packs now hold int16, so such audio is clipped to full scale on the
  // way in — with a notice naming the file — and training stays finite. (The non-finite message is
  // checked in config.test.ts and, through the fault switch, in cliTrain.test.ts.)
  it('a float WAV of amplitude 1e30 is clipped to int16 with a notice naming the file, and trains finitely', async () => {
    const data = await mkdtemp(join(root, 'loud-'));
    for (let s = 0; s < 2; s++) {
      for (let u = 0; u < 2; u++) {
        const x = new Float64Array(12000);
        for (let i = 0; i < x.length; i++) x[i] = 1e30 * Math.sin((2 * Math.PI * (200 + 100 * s) * i) / 16000 + u);
        await writeFile(join(data, `spk${s}_${u}.wav`), makeWav(16000, '32f', [x]).bytes);
      }
    }
    const r = await cli(['train', '--preset', 'tiny', '--data', data, '--steps', '3', '--out', join(data, 'run'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^note: spk0_0\.wav: \d+ of 12000 samples outside \[-1, 1\] clipped to int16 full scale/m);
    expect(Number.isFinite(lastJson(r.stdout).final_loss)).toBe(true);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }, 300_000);
});
