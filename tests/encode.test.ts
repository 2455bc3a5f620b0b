// Feature export: encodeFeatures tiles a file into windows and equals trainer.encode on them; the
// `encode` CLI writes one [frames, dim] matrix per file in safetensors or npy.
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { resolveConfig } from '../src/cpc/config.ts';
import { encoderFrames } from '../src/cpc/data/frames.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { encodeFeatures, featureWindows } from '../src/cpc/encodeFeatures.ts';
import { parseSafetensors } from '../src/cpc/safetensors.ts';
import { testDevice } from './helpers/gpu.ts';
import { makeWav } from './helpers/wavData.ts';
import { cli } from './helpers/cli.ts';

const cfg = resolveConfig('tiny', { batchSize: 2 });

function noise(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => 0.3 * rng.normal());
}

describe('featureWindows', () => {
  it('covers every frame exactly once, z back to back and c with half-window overlap', () => {
    for (const [F, T] of [[300, 126], [126, 126], [50, 126], [127, 126], [1000, 62]] as const) {
      for (const layer of ['z', 'c'] as const) {
        const seen = new Uint8Array(F);
        for (const w of featureWindows(F, T, layer)) {
          expect(w.start).toBeGreaterThanOrEqual(0);
          expect(w.start + Math.min(T, F)).toBeLessThanOrEqual(Math.max(F, T));
          for (let f = w.start + w.keepFrom; f < Math.min(F, w.start + T); f++) seen[f]++;
          if (layer === 'c' && w.start > 0) expect(w.keepFrom).toBeGreaterThanOrEqual(T - Math.floor(T / 2));
        }
        expect([...seen].every((s) => s === 1), `F=${F} T=${T} ${layer}`).toBe(true);
      }
    }
  });
});

describe('encodeFeatures', () => {
  it('shapes, and equality with trainer.encode on the windows it cuts', async () => {
    const ctx = await testDevice();
    const trainer = await CpcTrainer.create(ctx, cfg);
    try {
      const T = trainer.frames;
      const L = cfg.window;
      const n = Math.round(3.3 * L);
      const x = noise(n, 1);
      const F = encoderFrames(n, cfg.kernels, cfg.strides);
      const z = await encodeFeatures(trainer, x, 'z');
      const c = await encodeFeatures(trainer, x, 'c');
      expect([z.frames, z.dim, z.hop]).toEqual([F, cfg.channels, 160]);
      expect([c.frames, c.dim]).toEqual([F, cfg.hidden]);
      expect(z.features).toHaveLength(F * cfg.channels);
      // Window 0 of the file and the window starting at frame T (second z window) through trainer.encode.
      const batch = new Float32Array(2 * L);
      batch.set(x.subarray(0, L), 0);
      batch.set(x.subarray(T * 160, T * 160 + L), L);
      const ref = await trainer.encode(batch);
      const C = cfg.channels, H = cfg.hidden;
      expect(Array.from(z.features.subarray(0, T * C))).toEqual(Array.from(ref.z.subarray(0, T * C)));
      expect(Array.from(z.features.subarray(T * C, 2 * T * C))).toEqual(Array.from(ref.z.subarray(T * C, 2 * T * C)));
      // c: the first window's frames are the GRU's from the start of the file.
      expect(Array.from(c.features.subarray(0, T * H))).toEqual(Array.from(ref.c.subarray(0, T * H)));
      // A file shorter than a window: zero-padded, frames = encoderFrames(n), equal to the padded encode.
      const short = x.subarray(0, L - 1000);
      const Fs = encoderFrames(short.length, cfg.kernels, cfg.strides);
      const s = await encodeFeatures(trainer, short, 'c');
      const padded = new Float32Array(2 * L);
      padded.set(short, 0);
      const refS = await trainer.encode(padded);
      expect(s.frames).toBe(Fs);
      expect(Array.from(s.features)).toEqual(Array.from(refS.c.subarray(0, Fs * H)));
      await expect(encodeFeatures(trainer, x.subarray(0, 100), 'c')).rejects.toThrow(/shorter than the encoder's receptive field \(465 samples\)/);
    } finally {
      trainer.dispose();
    }
  }, 240_000);
});

describe('cpc-webgpu encode', () => {
  it('writes one matrix per .wav (safetensors and npy) with the frames of the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cpc-encode-'));
    const data = join(dir, 'wavs');
    await mkdir(data);
    const lens = [cfg.window * 2 + 777, 5000];
    for (const [i, n] of lens.entries()) await writeFile(join(data, `f${i}.wav`), makeWav(16000, '16', [Float64Array.from(noise(n, 10 + i))]).bytes);
    const ctx = await testDevice();
    const trainer = await CpcTrainer.create(ctx, cfg);
    const ckpt = join(dir, 'ck.safetensors');
    await writeFile(ckpt, await trainer.toCheckpoint());
    trainer.dispose();
    const st = await cli(['encode', '--checkpoint', ckpt, '--data', data, '--out', join(dir, 'out')]);
    expect(st.code, st.stderr).toBe(0);
    for (const [i, n] of lens.entries()) {
      const { tensors, metadata } = parseSafetensors(await readFile(join(dir, 'out', `f${i}.safetensors`)), `f${i}`);
      expect(tensors.get('features')!.shape).toEqual([encoderFrames(n, cfg.kernels, cfg.strides), cfg.hidden]);
      expect(metadata.layer).toBe('c');
    }
    const np = await cli(['encode', '--checkpoint', ckpt, '--data', join(data, 'f0.wav'), '--out', join(dir, 'npy'), '--layer', 'z', '--format', 'npy']);
    expect(np.code, np.stderr).toBe(0);
    const bytes = await readFile(join(dir, 'npy', 'f0.npy'));
    const headerLen = bytes.readUInt16LE(8);
    const header = bytes.subarray(10, 10 + headerLen).toString('latin1');
    const F0 = encoderFrames(lens[0]!, cfg.kernels, cfg.strides);
    expect(header).toContain(`'shape': (${F0}, ${cfg.channels})`);
    expect((10 + headerLen) % 64).toBe(0);
    expect(bytes.length).toBe(10 + headerLen + F0 * cfg.channels * 4);
    const bad = await cli(['encode', '--checkpoint', ckpt, '--data', data, '--out', join(dir, 'x'), '--layer', 'q']);
    expect(bad.code).toBe(2); // a bad flag value is a usage error
    expect(bad.stderr.trim()).toBe("error: encode: --layer must be z or c, got 'q'");
  }, 240_000);
});
