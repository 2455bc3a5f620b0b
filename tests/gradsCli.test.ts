// `cpc-webgpu grads`: weights and a batch in, gradients out — checked against the float64 oracle,
// which plays the part of "another implementation" (PyTorch in a user's hands).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paramShapes, resolveConfig } from '../src/cpc/config.ts';
import { encodeSafetensors, parseSafetensors, type SafeTensor } from '../src/cpc/safetensors.ts';
import { cpcInitParams, cpcLossAndGrads, randomArray, type CpcConfig } from './reference/index.ts';
import { cli, lastJson } from './helpers/cli.ts';

describe('cpc-webgpu grads', () => {
  it('writes the oracle loss and gradients for given weights and batch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cpc-grads-'));
    const cfg = resolveConfig('tiny', { batchSize: 8, norm: false });
    const ocfg: CpcConfig = {
      channels: cfg.channels, hidden: cfg.hidden, predictionSteps: cfg.predictionSteps, kernels: cfg.kernels, strides: cfg.strides,
      norm: false, predictorBias: false, negatives: { kind: 'batch' }, batchSize: 8,
    };
    const p64 = cpcInitParams(ocfg, 21);
    const shapes = paramShapes(cfg);
    const weights = new Map<string, SafeTensor>();
    for (const [name, v] of p64) {
      const f = Float32Array.from(v);
      p64.set(name, Float64Array.from(f));
      weights.set(name, { dtype: 'F32', shape: shapes.get(name)!, data: f });
    }
    // Weights-only file, as converted from PyTorch: the config comes from --config.
    await writeFile(join(dir, 'w.safetensors'), encodeSafetensors(weights));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ preset: 'tiny', norm: false }));
    const signal = Float32Array.from(randomArray(8 * cfg.window, 22, 0.5));
    await writeFile(join(dir, 'x.safetensors'), encodeSafetensors({ signal: { dtype: 'F32', shape: [8, cfg.window], data: signal } }));
    const r = await cli(['grads', '--weights', join(dir, 'w.safetensors'), '--batch', join(dir, 'x.safetensors'),
      '--out', join(dir, 'g.safetensors'), '--config', join(dir, 'config.json'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = lastJson(r.stdout);
    const ref = cpcLossAndGrads(Float64Array.from(signal), p64, ocfg);
    // Same derivation as tests/trainer.test.ts: float32 kernels composed, 1e-4 on the loss, 1e-3 of each gradient's norm.
    expect(Math.abs((summary.loss as number) - ref.loss)).toBeLessThanOrEqual(1e-4 * ref.loss);
    const out = parseSafetensors(new Uint8Array(await readFile(join(dir, 'g.safetensors'))), 'g.safetensors');
    expect(Number(out.metadata.loss)).toBe(summary.loss);
    expect([...out.tensors.keys()].sort()).toEqual([...ref.grads.keys()].sort());
    for (const [name, want] of ref.grads) {
      const got = out.tensors.get(name)!;
      expect(got.shape).toEqual(shapes.get(name)!);
      let d2 = 0, w2 = 0;
      want.forEach((w, i) => { d2 += (got.data[i]! - w) ** 2; w2 += w * w; });
      expect(Math.sqrt(d2 / w2), name).toBeLessThanOrEqual(1e-3);
    }
  }, 300_000);

  it('refuses a batch without a signal tensor, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cpc-grads-'));
    await writeFile(join(dir, 'x.safetensors'), encodeSafetensors({ audio: { dtype: 'F32', shape: [1, 4], data: new Float32Array(4) } }));
    await writeFile(join(dir, 'w.safetensors'), encodeSafetensors({}));
    const r = await cli(['grads', '--weights', join(dir, 'w.safetensors'), '--batch', join(dir, 'x.safetensors'), '--out', join(dir, 'g.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x\.safetensors: no tensor 'signal' \[B, L\] \(found: audio\)/);
  });
});
