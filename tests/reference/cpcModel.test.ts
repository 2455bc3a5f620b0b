import { describe, expect, it } from 'vitest';
import { cpcBackward, cpcForward, cpcInitParams, cpcLossAndGrads, cpcParamShapes, type CpcConfig } from './cpcModel.ts';
import { compareGradients, numericGradientGuarded, sampleIndices } from './finiteDifference.ts';
import { randomArray } from './random.ts';

// Whole-model finite-difference tolerance. The loss is O(1) and smooth between ReLU kinks
// (perturbations that flip a ReLU input's sign are detected and skipped). Through ChannelNorm
// (rstd ≈ 1 here), GRU and InfoNCE all derivatives stay O(1–10), so with h = 1e-6 truncation is
// ≲ 1e-11 and rounding ≈ ε·|L|/h ≈ 1e-9 (some thousand summed terms: a few 1e-9). rtol 1e-6,
// atol 1e-8 keeps a correct gradient inside with margin, while a missed path (e.g. the GRU's
// dz not added to the InfoNCE dz) changes gradients by O(10%).
const TOL = { rtol: 1e-6, atol: 1e-8 };

const tiny = (over: Partial<CpcConfig>): CpcConfig => ({
  channels: 5,
  hidden: 3,
  predictionSteps: 2,
  kernels: [4, 4],
  strides: [2, 2],
  norm: true,
  predictorBias: false,
  negatives: { kind: 'batch' },
  batchSize: 2,
  ...over,
});

describe('cpcParamShapes', () => {
  it('uses PyTorch names and layouts', () => {
    const shapes = cpcParamShapes(tiny({ predictorBias: true }));
    expect([...shapes.entries()]).toEqual([
      ['encoder.0.weight', [5, 1, 4]],
      ['encoder.0.bias', [5]],
      ['encoder.0.norm.weight', [5]],
      ['encoder.0.norm.bias', [5]],
      ['encoder.1.weight', [5, 5, 4]],
      ['encoder.1.bias', [5]],
      ['encoder.1.norm.weight', [5]],
      ['encoder.1.norm.bias', [5]],
      ['gru.weight_ih_l0', [9, 5]],
      ['gru.weight_hh_l0', [9, 3]],
      ['gru.bias_ih_l0', [9]],
      ['gru.bias_hh_l0', [9]],
      ['predictors.0.weight', [5, 3]],
      ['predictors.0.bias', [5]],
      ['predictors.1.weight', [5, 3]],
      ['predictors.1.bias', [5]],
    ]);
  });

  it('omits norm and predictor-bias tensors when off; paper defaults', () => {
    const shapes = cpcParamShapes({ ...tiny({ norm: false }), kernels: undefined, strides: undefined, channels: 512, hidden: 256, predictionSteps: 12 });
    expect([...shapes.keys()].some((k) => k.includes('norm') || k.endsWith('.bias') && k.startsWith('pred'))).toBe(false);
    expect(shapes.get('encoder.0.weight')).toEqual([512, 1, 10]);
    expect(shapes.get('encoder.4.weight')).toEqual([512, 512, 4]);
    expect(shapes.get('gru.weight_ih_l0')).toEqual([768, 512]);
    expect(shapes.get('predictors.11.weight')).toEqual([512, 256]);
    expect(shapes.size).toBe(10 + 4 + 12);
  });
});

describe('cpc forward', () => {
  it('zero predictors: every score is 0, loss = log(B) in batch mode, accuracy 1', () => {
    const cfg = tiny({ batchSize: 3 });
    const params = cpcInitParams(cfg, 1);
    params.get('predictors.0.weight')!.fill(0);
    params.get('predictors.1.weight')!.fill(0);
    const r = cpcLossAndGrads(randomArray(3 * 41, 2), params, cfg);
    expect(Math.abs(r.loss - Math.log(3))).toBeLessThan(1e-15);
    expect(Array.from(r.accPerK)).toEqual([1, 1]);
  });

  it('frames and sizes: L = 41 → 19 → 8 frames', () => {
    const cfg = tiny({});
    const fwd = cpcForward(randomArray(2 * 41, 3), cpcInitParams(cfg, 4), cfg);
    expect(fwd.cache.dims).toEqual({ B: 2, T: 8, C: 5, H: 3, K: 2 });
    expect(fwd.cache.c.length).toBe(2 * 8 * 3);
    expect(Number.isFinite(fwd.loss) && fwd.loss > 0).toBe(true);
  });

  it('rejects a missing or mis-shaped parameter', () => {
    const cfg = tiny({});
    const params = cpcInitParams(cfg, 4);
    params.set('gru.bias_hh_l0', new Float64Array(8));
    expect(() => cpcForward(randomArray(82, 3), params, cfg)).toThrow(/gru.bias_hh_l0/);
    params.delete('gru.bias_hh_l0');
    expect(() => cpcForward(randomArray(82, 3), params, cfg)).toThrow(/missing/);
  });
});

describe('cpcLossAndGrads vs central differences (every tensor, sampled entries)', () => {
  const configs: [string, CpcConfig, number][] = [
    ['norm on, batch', tiny({}), 41],
    ['norm off, batch, predictor bias', tiny({ norm: false, predictorBias: true }), 40],
    ['norm on, batch-time, predictor bias, B=1', tiny({ negatives: { kind: 'batch-time' }, predictorBias: true, batchSize: 1 }), 43],
    ['norm off, sampled n=5, B=3', tiny({ norm: false, negatives: { kind: 'sampled', n: 5, seed: 99 }, batchSize: 3 }), 41],
  ];
  for (const [label, cfg, L] of configs) {
    it(label, () => {
      const params = cpcInitParams(cfg, 11);
      const signal = randomArray(cfg.batchSize * L, 12);
      const fwd = cpcForward(signal, params, cfg);
      const grads = cpcBackward(fwd.cache);
      const r = cpcLossAndGrads(signal, params, cfg);
      expect(r.loss).toBe(fwd.loss);
      expect([...r.grads.keys()]).toEqual([...cpcParamShapes(cfg).keys()]);

      const signs = (c: typeof fwd.cache) => c.encoder.layers.flatMap((l) => Array.from(l.preAct, (v) => v > 0));
      const base = signs(fwd.cache);
      let last = base;
      const f = () => {
        const o = cpcForward(signal, params, cfg);
        last = signs(o.cache);
        return o.loss;
      };
      const smooth = () => last.every((s, i) => s === base[i]);
      let skipped = 0;
      let checked = 0;
      let seed = 1;
      for (const [name, x] of params) {
        const idx = sampleIndices(x.length, 20, seed++);
        const g = numericGradientGuarded(f, x, smooth, 1e-6, idx);
        const cmp = compareGradients(grads.get(name)!, g.numeric, TOL);
        expect(cmp.ok, `${name}: max abs err ${cmp.maxAbsErr}, rel ${cmp.maxRelErr} at [${cmp.worstIndex}]`).toBe(true);
        skipped += g.skipped;
        checked += cmp.checked;
      }
      // Kink crossings are rare (a ReLU input within ~1e-5 of 0); the check must not go vacuous.
      expect(skipped).toBeLessThanOrEqual(checked / 50);
      expect(checked).toBeGreaterThanOrEqual(130);
    });
  }
});
