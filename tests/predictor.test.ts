// Predictor heads (all K in one dispatch) vs the float64 oracle's linear layer, head by head.
import { describe, expect, it } from 'vitest';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { runOps } from '../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../src/runtime/tensor.ts';
import { preparePredictorBackward, preparePredictorForward, type PredictorDims } from '../src/shaders/predictor.ts';
import { linearBackward, linearForward, randomArray } from './reference/index.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { expectWithin } from './helpers/compare.ts';
import { abs, f32, gamma } from './helpers/infonceCheck.ts';

interface Problem { c: Float64Array; w: Float64Array; bias: Float64Array | null; dPreds: Float64Array }

function problem(d: PredictorDims, withBias: boolean, seed: number): Problem {
  const { B, T, C, H, K } = d;
  const dPreds = f32(randomArray(K * B * T * C, seed + 3));
  // The backward ignores rows t + k ≥ T (InfoNCE gives them no gradient); the oracle gets zeros there.
  for (let k = 1; k <= K; k++) for (let b = 0; b < B; b++) for (let t = T - k; t < T; t++) {
    dPreds.fill(0, (((k - 1) * B + b) * T + t) * C, (((k - 1) * B + b) * T + t + 1) * C);
  }
  return {
    c: f32(randomArray(B * T * H, seed)),
    w: f32(randomArray(K * C * H, seed + 1, 1 / Math.sqrt(H))),
    bias: withBias ? f32(randomArray(K * C, seed + 2)) : null,
    dPreds,
  };
}

const head = (x: Float64Array, k: number, n: number) => x.subarray(k * n, (k + 1) * n);

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

async function check(d: PredictorDims, withBias: boolean, seed: number): Promise<void> {
  const ctx = await testDevice();
  const { B, T, C, H, K } = d;
  const p = problem(d, withBias, seed);
  const N = B * T;
  const lin = { N, In: H, Out: C };
  const c = upload(ctx, [B, T, H], p.c, 'f32', 'c');
  const w = upload(ctx, [K, C, H], p.w, 'f32', 'weight');
  const bias = p.bias ? upload(ctx, [K, C], p.bias, 'f32', 'bias') : null;
  const preds = createTensor(ctx, [K, B, T, C], 'f32', 'preds');
  const dPreds = upload(ctx, [K, B, T, C], p.dPreds, 'f32', 'dPreds');
  const dC = createTensor(ctx, [B, T, H], 'f32', 'dC');
  const dW = createTensor(ctx, [K, C, H], 'f32', 'dWeight');
  const dB = p.bias ? createTensor(ctx, [K, C], 'f32', 'dBias') : null;
  const fwd = await preparePredictorForward(ctx, d, { c, weight: w, bias, preds });
  const bwd = await preparePredictorBackward(ctx, d, { c, weight: w, dPreds, dC, dWeight: dW, dBias: dB });
  await runOps(ctx, [fwd, bwd]);

  // Forward: H products (+ the bias) per output, so |err| ≤ γ_{H+1} (Σ_j |W_ij c_j| + |b_i|); the
  // magnitudes are the oracle run on absolute values.
  const want = concat(Array.from({ length: K }, (_, k) =>
    linearForward(p.c, head(p.w, k, C * H), p.bias ? head(p.bias, k, C) : null, lin)));
  const mag = concat(Array.from({ length: K }, (_, k) =>
    linearForward(abs(p.c), abs(head(p.w, k, C * H)), p.bias ? abs(head(p.bias, k, C)) : null, lin)));
  expectWithin(await download(ctx, preds), want, mag.map((m) => gamma(H + 1) * m), 'preds');

  // Backward: dC sums K·C products per element, dW and dB at most B·T per element.
  const wantDC = new Float64Array(N * H), magDC = new Float64Array(N * H);
  const wantDW: Float64Array[] = [], magDW: Float64Array[] = [], wantDB: Float64Array[] = [], magDB: Float64Array[] = [];
  for (let k = 0; k < K; k++) {
    const dy = head(p.dPreds, k, N * C);
    const g = linearBackward(p.c, head(p.w, k, C * H), dy, lin);
    const m = linearBackward(abs(p.c), abs(head(p.w, k, C * H)), abs(dy), lin);
    g.dx.forEach((v, i) => { wantDC[i] += v; });
    m.dx.forEach((v, i) => { magDC[i] += v; });
    wantDW.push(g.dw); magDW.push(m.dw); wantDB.push(g.db); magDB.push(m.db);
  }
  expectWithin(await download(ctx, dC), wantDC, magDC.map((m) => gamma(K * C) * m), 'dC');
  expectWithin(await download(ctx, dW), concat(wantDW), concat(magDW).map((m) => gamma(N) * m), 'dWeight');
  if (dB) expectWithin(await download(ctx, dB), concat(wantDB), concat(magDB).map((m) => gamma(N) * m), 'dBias');
  for (const t of [c, w, bias, preds, dPreds, dC, dW, dB]) t?.buffer.destroy();
}

describe('predictor heads vs float64 oracle', () => {
  // B·T = 21 is not a multiple of the 4-row tile, C/4 = 3 not a multiple of the 2-vec4 dW tile.
  it('K=3, B=3, T=7, C=12, H=8, no bias', () => check({ B: 3, T: 7, C: 12, H: 8, K: 3 }, false, 11));
  it('K=3, B=3, T=7, C=12, H=20, with bias', () => check({ B: 3, T: 7, C: 12, H: 20, K: 3 }, true, 12));
  it('K=1, B=1, T=2, C=4, H=4, with bias', () => check({ B: 1, T: 2, C: 4, H: 4, K: 1 }, true, 13));
  it('K=12, B=2, T=14, C=16, H=12, with bias', () => check({ B: 2, T: 14, C: 16, H: 12, K: 12 }, true, 14));

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
