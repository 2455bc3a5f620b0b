// The predictor heads' oracle check (tests/predictor.test.ts, tests/predictorVariants.test.ts).
import type { GpuContext } from '../../src/runtime/device.ts';
import { runOps } from '../../src/runtime/kernel.ts';
import { createTensor } from '../../src/runtime/tensor.ts';
import {
  preparePredictorBackward, preparePredictorForward, type PredictorDims, type PredictorOptions,
} from '../../src/shaders/predictor.ts';
import { linearBackward, linearForward, randomArray } from '../reference/index.ts';
import { expectWithin } from './compare.ts';
import { download, upload } from './gpu.ts';
import { abs, f32, gamma } from './infonceCheck.ts';

export interface PredictorProblem { c: Float64Array; w: Float64Array; bias: Float64Array | null; dPreds: Float64Array }

export function predictorProblem(d: PredictorDims, withBias: boolean, seed: number): PredictorProblem {
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

/** One forward + backward of the K heads (with `opts`) vs the float64 oracle, within the γ_n bounds. */
export async function checkPredictor(
  ctx: GpuContext, d: PredictorDims, withBias: boolean, seed: number, opts: PredictorOptions = {},
): Promise<void> {
  const { B, T, C, H, K } = d;
  const p = predictorProblem(d, withBias, seed);
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
  const fwd = await preparePredictorForward(ctx, d, { c, weight: w, bias, preds }, opts);
  const bwd = await preparePredictorBackward(ctx, d, { c, weight: w, dPreds, dC, dWeight: dW, dBias: dB }, opts);
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
