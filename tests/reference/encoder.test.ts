import { describe, expect, it } from 'vitest';
import {
  encoderBackward,
  encoderForward,
  encoderOutputLength,
  encoderWeightShapes,
  type EncoderCache,
  type EncoderConfig,
  type EncoderParams,
} from './encoder.ts';
import { conv1dForward } from './conv1d.ts';
import { channelNormForward } from './channelNorm.ts';
import { reluForward } from './activations.ts';
import { compareGradients, dot, numericGradientGuarded } from './finiteDifference.ts';
import { randomArray } from './random.ts';

// Finite-difference tolerance. L = ⟨z, R⟩ with |L| = O(1); between kinks the net is smooth
// (conv, ChannelNorm, ReLU on a fixed side), so central differences with h = 1e-6 have
// truncation h²/6·|L'''| ≲ 1e-11 and rounding ε·|L|/h ≈ 1e-9 (a few hundred summed terms: a
// few 1e-9 at worst). rtol 1e-6, atol 1e-8 holds a correct gradient with margin; a wrong layer
// index, stride or missed norm term is off by ≥ 1e-2.
const TOL = { rtol: 1e-6, atol: 1e-8 };

function makeParams(cfg: EncoderConfig, seed: number): EncoderParams {
  const shapes = encoderWeightShapes(cfg);
  const C = cfg.channels;
  const p: EncoderParams = {
    weight: shapes.map(([co, ci, k], i) => randomArray(co * ci * k, seed + i, 1 / Math.sqrt(ci * k))),
    bias: shapes.map((_, i) => randomArray(C, seed + 100 + i, 0.1)),
  };
  if (cfg.norm) {
    p.normWeight = shapes.map((_, i) => randomArray(C, seed + 200 + i, 0.3).map((v) => 1 + v));
    p.normBias = shapes.map((_, i) => randomArray(C, seed + 300 + i, 0.3));
  }
  return p;
}

/** Every ReLU input's sign, to tell whether a perturbation moved the net onto another linear piece. */
const reluSigns = (cache: EncoderCache): boolean[] => cache.layers.flatMap((l) => Array.from(l.preAct, (v) => v > 0));

describe('encoder shapes', () => {
  it('paper config: 20480 samples → 126 frames (4095 → 1022 → 510 → 254 → 126)', () => {
    expect(encoderOutputLength(20480)).toBe(126);
    expect(encoderOutputLength(20480, [10], [5])).toBe(4095);
    expect(encoderOutputLength(20480, [10, 8], [5, 4])).toBe(1022);
    expect(encoderOutputLength(20480, [10, 8, 4], [5, 4, 2])).toBe(510);
    expect(encoderOutputLength(20480, [10, 8, 4, 4], [5, 4, 2, 2])).toBe(254);
    // 160 samples per frame: 160 more samples give exactly one more frame.
    expect(encoderOutputLength(20480 + 160)).toBe(127);
  });

  it('runs the default 5-layer stack (C = 3, norm on) on 20480 samples', () => {
    const cfg: EncoderConfig = { channels: 3, kernels: [10, 8, 4, 4, 4], strides: [5, 4, 2, 2, 2], norm: true };
    const { z, T } = encoderForward(randomArray(20480, 1), makeParams(cfg, 2), cfg, 1);
    expect(T).toBe(126);
    expect(z.length).toBe(3 * 126);
    expect(z.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
  });
});

describe('encoder forward', () => {
  it('by hand: one layer, C = 2, kernel 2, stride 2, no norm', () => {
    const cfg: EncoderConfig = { channels: 2, kernels: [2], strides: [2], norm: false };
    const params: EncoderParams = { weight: [Float64Array.from([1, 1, 1, -1])], bias: [Float64Array.from([0, 0.5])] };
    const { z, T } = encoderForward(Float64Array.from([1, -2, 3, 4]), params, cfg, 1);
    // channel 0: [1 − 2, 3 + 4] = [−1, 7] → ReLU [0, 7]; channel 1: [1 + 2 + .5, 3 − 4 + .5] → [3.5, 0]
    expect(T).toBe(2);
    expect(Array.from(z)).toEqual([0, 7, 3.5, 0]);
  });

  it('is conv → channel norm → ReLU per layer, in that order', () => {
    const cfg: EncoderConfig = { channels: 5, kernels: [4, 3], strides: [2, 2], norm: true };
    const p = makeParams(cfg, 7);
    const signal = randomArray(2 * 29, 8);
    const { z } = encoderForward(signal, p, cfg, 2);
    const c0 = conv1dForward(signal, p.weight[0], p.bias[0], { B: 2, Cin: 1, L: 29, Cout: 5, K: 4, stride: 2 });
    const a0 = reluForward(channelNormForward(c0.y, p.normWeight![0], p.normBias![0], { B: 2, C: 5, T: c0.Lout }).y);
    const c1 = conv1dForward(a0, p.weight[1], p.bias[1], { B: 2, Cin: 5, L: c0.Lout, Cout: 5, K: 3, stride: 2 });
    const a1 = reluForward(channelNormForward(c1.y, p.normWeight![1], p.normBias![1], { B: 2, C: 5, T: c1.Lout }).y);
    expect(Array.from(z)).toEqual(Array.from(a1));
  });
});

describe('encoder backward vs central differences', () => {
  // L = 31 → 14 → 6 → 4: each layer leaves a remainder after its stride; C = 5 (not a multiple of 4).
  const base = { channels: 5, kernels: [4, 3, 3], strides: [2, 2, 1] };
  for (const B of [1, 2]) {
    for (const norm of [false, true]) {
      it(`B=${B} norm=${norm}`, () => {
        const cfg: EncoderConfig = { ...base, norm };
        const params = makeParams(cfg, 40 + B);
        const signal = randomArray(B * 31, 50 + B);
        const fwd = encoderForward(signal, params, cfg, B);
        expect(fwd.T).toBe(4);
        const R = randomArray(fwd.z.length, 60, 1 / Math.sqrt(fwd.z.length));
        const grads = encoderBackward(fwd.cache, R);
        const signs = reluSigns(fwd.cache);
        let lastSigns: boolean[] = signs;
        const f = () => {
          const r = encoderForward(signal, params, cfg, B);
          lastSigns = reluSigns(r.cache);
          return dot(r.z, R);
        };
        const smooth = () => lastSigns.every((s, i) => s === signs[i]);
        const tensors: [string, Float64Array, Float64Array][] = [['signal', signal, grads.dSignal]];
        for (let i = 0; i < 3; i++) {
          tensors.push([`weight[${i}]`, params.weight[i], grads.weight[i]]);
          tensors.push([`bias[${i}]`, params.bias[i], grads.bias[i]]);
          if (norm) {
            tensors.push([`normWeight[${i}]`, params.normWeight![i], grads.normWeight![i]]);
            tensors.push([`normBias[${i}]`, params.normBias![i], grads.normBias![i]]);
          }
        }
        let skipped = 0;
        let total = 0;
        for (const [name, x, analytic] of tensors) {
          const g = numericGradientGuarded(f, x, smooth);
          const r = compareGradients(analytic, g.numeric, TOL);
          expect(r.ok, `${name}: max abs err ${r.maxAbsErr}, rel ${r.maxRelErr} at ${r.worstIndex}`).toBe(true);
          skipped += g.skipped;
          total += x.length;
        }
        // Kink crossings need a ReLU input within ~1e-5 of 0: rare, and must stay rare.
        expect(skipped).toBeLessThanOrEqual(total / 50);
        if (!norm) expect(grads.normWeight).toBeUndefined();
      });
    }
  }
});
