// Every predictor kernel variant (predictorVariants: register tiles, workgroup-memory tiles), forward
// and backward vs the float64 oracle, on lavapipe and SwiftShader (vitest.config.ts runs *Variants
// files on both). The bounds are predictor.test.ts's γ_n · Σ|terms| (tests/helpers/predictorCheck.ts),
// which hold for a sum in any order, so they cover every tiling unchanged.
import { describe, expect, it } from 'vitest';
import { runOps } from '../src/runtime/kernel.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import { preparePredictorBackward, preparePredictorForward, predictorVariants, type PredictorDims } from '../src/shaders/predictor.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { checkPredictor, predictorProblem } from './helpers/predictorCheck.ts';

// B = 1 with C/4 = 3 and H/4 = 5 (one partial 32 × 32 tile, partial stages); and B·T = 80 rows,
// C = 36, H = 44: several tiles on every axis, each with a partial edge, H/4 = 11 quads ending in a
// partial stage at 4 and at 8 quads per stage, and B·(T − k) rows ending in a partial row stage.
const SHAPES: { d: PredictorDims; bias: boolean; seed: number }[] = [
  { d: { B: 1, T: 7, C: 12, H: 20, K: 3 }, bias: true, seed: 31 },
  { d: { B: 2, T: 40, C: 36, H: 44, K: 3 }, bias: false, seed: 32 },
];

describe('predictor kernel variants vs the float64 oracle', () => {
  it('lists stable, distinct ids with the adapter-class default first', async () => {
    const ctx = await testDevice();
    const ids = predictorVariants(ctx, SHAPES[1]!.d, 'forward').map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(['register', 'wgmem32.q4', 'wgmem32.q8']);   // software adapter: register first
  });

  for (const s of SHAPES) {
    const { B, T, C, H, K } = s.d;
    it(`every variant, K=${K} B=${B} T=${T} C=${C} H=${H}${s.bias ? ', bias' : ''}`, async () => {
      const ctx = await testDevice();
      for (const v of predictorVariants(ctx, s.d, 'backward')) {
        try {
          await checkPredictor(ctx, s.d, s.bias, s.seed, v.options);
        } catch (e) {
          throw new Error(`variant ${v.id}: ${(e as Error).message}`);
        }
      }
    });
  }

  it('a given variant is bitwise deterministic', async () => {
    const ctx = await testDevice();
    const d = SHAPES[1]!.d;
    const { B, T, C, H, K } = d;
    const p = predictorProblem(d, true, 41);
    const c = upload(ctx, [B, T, H], p.c), w = upload(ctx, [K, C, H], p.w), bias = upload(ctx, [K, C], p.bias!);
    const dP = upload(ctx, [K, B, T, C], p.dPreds);
    const preds = createTensor(ctx, [K, B, T, C]), dC = createTensor(ctx, [B, T, H]);
    const dW = createTensor(ctx, [K, C, H]), dB = createTensor(ctx, [K, C]);
    for (const v of predictorVariants(ctx, d, 'backward').filter((x) => x.id.startsWith('wgmem'))) {
      const fwd = await preparePredictorForward(ctx, d, { c, weight: w, bias, preds }, v.options);
      const bwd = await preparePredictorBackward(ctx, d, { c, weight: w, dPreds: dP, dC, dWeight: dW, dBias: dB }, v.options);
      const outs = async () => Promise.all([preds, dC, dW, dB].map((t) => download(ctx, t)));
      await runOps(ctx, [fwd, bwd]);
      const first = await outs();
      await runOps(ctx, [fwd, bwd]);
      const second = await outs();
      first.forEach((a, i) => expect(Array.from(second[i]!), `${v.id} output ${i}`).toEqual(Array.from(a)));
    }
  });
});
