// Predictor heads (all K in one dispatch) vs the float64 oracle's linear layer, head by head.
import { describe, expect, it } from 'vitest';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { runOps } from '../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../src/runtime/tensor.ts';
import { preparePredictorBackward, preparePredictorForward, type PredictorDims } from '../src/shaders/predictor.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { checkPredictor, predictorProblem as problem } from './helpers/predictorCheck.ts';

describe('predictor heads vs float64 oracle', () => {
  // B·T = 21 is not a multiple of the 4-row tile, C/4 = 3 not a multiple of the 2-vec4 dW tile.
  it('K=3, B=3, T=7, C=12, H=8, no bias', async () => checkPredictor(await testDevice(), { B: 3, T: 7, C: 12, H: 8, K: 3 }, false, 11));
  it('K=3, B=3, T=7, C=12, H=20, with bias', async () => checkPredictor(await testDevice(), { B: 3, T: 7, C: 12, H: 20, K: 3 }, true, 12));
  it('K=1, B=1, T=2, C=4, H=4, with bias', async () => checkPredictor(await testDevice(), { B: 1, T: 2, C: 4, H: 4, K: 1 }, true, 13));
  it('K=12, B=2, T=14, C=16, H=12, with bias', async () => checkPredictor(await testDevice(), { B: 2, T: 14, C: 16, H: 12, K: 12 }, true, 14));

  it('is bitwise deterministic across runs', async () => {
    const ctx = await testDevice();
    const d = { B: 2, T: 9, C: 8, H: 8, K: 4 };
    const p = problem(d, true, 21);
    const c = upload(ctx, [2, 9, 8], p.c), w = upload(ctx, [4, 8, 8], p.w), dP = upload(ctx, [4, 2, 9, 8], p.dPreds);
    const dC = createTensor(ctx, [2, 9, 8]), dW = createTensor(ctx, [4, 8, 8]), dB = createTensor(ctx, [4, 8]);
    const op = await preparePredictorBackward(ctx, d, { c, weight: w, dPreds: dP, dC, dWeight: dW, dBias: dB });
    await runOps(ctx, [op]);
    const first = [await download(ctx, dC), await download(ctx, dW), await download(ctx, dB)];
    await runOps(ctx, [op]);
    const second = [await download(ctx, dC), await download(ctx, dW), await download(ctx, dB)];
    first.forEach((a, i) => expect(Array.from(second[i]!)).toEqual(Array.from(a)));
  });
});

describe('predictor errors', () => {
  it('rejects wrong shapes naming the op and the tensor', async () => {
    const ctx = await testDevice();
    const d = { B: 2, T: 5, C: 8, H: 4, K: 2 };
    const c = createTensor(ctx, [2, 5, 4]), w = createTensor(ctx, [2, 8, 4]), preds = createTensor(ctx, [2, 2, 5, 8]);
    const wrongW = createTensor(ctx, [2, 4, 8]);
    await expect(preparePredictorForward(ctx, d, { c, weight: wrongW, bias: null, preds }))
      .rejects.toThrow(/predictorForward: weight has shape \[2, 4, 8\], expected \[2, 8, 4\]/);
    await expect(preparePredictorForward(ctx, { ...d, C: 6 }, { c, weight: w, bias: null, preds })).rejects.toThrow(ShapeError);
    await expect(preparePredictorForward(ctx, { ...d, C: 6 }, { c, weight: w, bias: null, preds }))
      .rejects.toThrow(/multiples of 4.*C=6/);
    await expect(preparePredictorForward(ctx, { ...d, K: 5 }, { c, weight: w, bias: null, preds }))
      .rejects.toThrow(/predictorForward: need K < T/);
    const dC = createTensor(ctx, [2, 5, 4]), dW = createTensor(ctx, [2, 8, 4]);
    await expect(preparePredictorBackward(ctx, d, { c, weight: w, dPreds: preds, dC, dWeight: dW, dBias: createTensor(ctx, [2, 4]) }))
      .rejects.toThrow(/predictorBackward: dBias has shape \[2, 4\], expected \[2, 8\]/);
  });

  it('refuses a config whose predictions exceed maxStorageBufferBindingSize before WebGPU sees it', async () => {
    const ctx = await testDevice();
    const d = { B: 64, T: 1000, C: 512, H: 256, K: 12 };
    // Handles only: the launcher must refuse before any buffer is bound.
    const fake = (shape: number[]): Tensor => ({
      shape, dtype: 'f32', buffer: null as unknown as GPUBuffer, byteOffset: 0, byteLength: 4 * shape.reduce((a, b) => a * b, 1), label: 'fake',
    });
    const p = preparePredictorForward(ctx, d, {
      c: fake([64, 1000, 256]), weight: fake([12, 512, 256]), bias: null, preds: fake([12, 64, 1000, 512]),
    });
    await expect(p).rejects.toThrow(LimitExceededError);
    await expect(preparePredictorForward(ctx, d, {
      c: fake([64, 1000, 256]), weight: fake([12, 512, 256]), bias: null, preds: fake([12, 64, 1000, 512]),
    })).rejects.toThrow(/predictorForward: needs maxStorageBufferBindingSize = 1572864000/);
  });
});
