// InfoNCE through the whole predictor → InfoNCE → InfoNCE backward → predictor backward chain as the
// trainer runs it, vs the float64 oracle (tests/infonce.test.ts, tests/infonceVariants.test.ts).
// Tolerances: tests/helpers/infonceBounds.ts derives a per-element bound for every output from the
// f32 error model (γ_n sums in any order, WGSL exp/log accuracy); the predictions' own bound
// γ_{H+1}·Σ|W c|+|b| is propagated through it, and dC/dW/dB add γ_{K·C} / γ_{B·T} of their own sums.
import { expect } from 'vitest';
import type { GpuContext } from '../../src/runtime/device.ts';
import { runOps } from '../../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../../src/runtime/tensor.ts';
import {
  infoNceBackwardScratch, infoNceForwardScratch, infoNceMetricsLayout, negativeSamplingSeed,
  prepareInfoNceBackward, prepareInfoNceForward, prepareNegativeSampler, type InfoNceMode, type InfoNceOptions,
} from '../../src/shaders/infonce.ts';
import { preparePredictorBackward, preparePredictorForward } from '../../src/shaders/predictor.ts';
import {
  infoNceBackward, infoNceForward, linearBackward, linearForward, randomArray, sampleNegatives,
  type InfoNceMode as OracleMode,
} from '../reference/index.ts';
import { download, testDevice, upload } from './gpu.ts';
import { expectWithin } from './compare.ts';
import { abs, f32, gamma } from './infonceCheck.ts';
import { infoNceBounds } from './infonceBounds.ts';

export interface Dims { B: number; T: number; C: number; H: number; K: number }

export interface Setup {
  dims: Dims;
  mode: InfoNceMode;
  seed: number;
  bias: boolean;
  /** scales of z and c (scores grow as their product) */
  zScale?: number;
  cScale?: number;
  /** replace z by zeros: every score ties at 0 */
  zeroZ?: boolean;
  /** kernel variant options of the InfoNCE launchers */
  options?: InfoNceOptions;
}

const SAMPLER_SEED = 1234;
const STEP = 7;

export interface GpuRun {
  preds: Float64Array; rowLoss: Float64Array; rowLse: Float64Array; metrics: Float64Array;
  dPreds: Float64Array; dZ: Float64Array; dC: Float64Array; dW: Float64Array; dB: Float64Array | null;
  negIdx: Uint32Array | null;
}

function headsOf(x: Float64Array, K: number): Float64Array[] {
  const n = x.length / K;
  return Array.from({ length: K }, (_, k) => x.slice(k * n, (k + 1) * n));
}

export async function runGpu(ctx: GpuContext, s: Setup, data: { z: Float64Array; c: Float64Array; w: Float64Array; b: Float64Array | null }): Promise<GpuRun> {
  const { B, T, C, H, K } = s.dims;
  const created: Tensor[] = [];
  const make = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => {
    const t = createTensor(ctx, shape, dtype, label); created.push(t); return t;
  };
  const put = (shape: number[], x: ArrayLike<number>, label: string, dtype: 'f32' | 'u32' = 'f32') => {
    const t = upload(ctx, shape, x, dtype, label); created.push(t); return t;
  };
  const z = put([B, T, C], data.z, 'z'), c = put([B, T, H], data.c, 'c'), weight = put([K, C, H], data.w, 'weight');
  const bias = data.b ? put([K, C], data.b, 'bias') : null;
  const preds = make([K, B, T, C], 'preds');
  const rowLoss = make([K, B, T], 'rowLoss'), rowLse = make([K, B, T], 'rowLse');
  const metrics = make([1 + 2 * K], 'metrics');
  const fs = infoNceForwardScratch(s.dims, s.mode);
  const rowHit = make(fs[0]!.shape, fs[0]!.name, fs[0]!.dtype as 'u32');
  const dPreds = make([K, B, T, C], 'dPreds'), dZ = make([B, T, C], 'dZ');
  const dC = make([B, T, H], 'dC'), dW = make([K, C, H], 'dWeight'), dB = data.b ? make([K, C], 'dBias') : null;
  const ops = [];
  let negIdx: Tensor | undefined;
  const scratch: Record<string, Tensor> = {};
  if (s.mode.kind === 'sampled') {
    negIdx = make([K, B, T, s.mode.n], 'negIdx', 'u32');
    const seedStep = put([2], [SAMPLER_SEED, STEP], 'seedStep', 'u32');
    ops.push(await prepareNegativeSampler(ctx, { B, T, K }, s.mode.n, { seedStep, negIdx }, s.mode.shared));
    for (const sp of infoNceBackwardScratch(s.dims, s.mode)) scratch[sp.name] = make(sp.shape, sp.name, sp.dtype as 'u32');
  }
  ops.push(await preparePredictorForward(ctx, s.dims, { c, weight, bias, preds }));
  ops.push(await prepareInfoNceForward(ctx, s.dims, s.mode, { z, preds, negIdx, rowLoss, rowLse, metrics, rowHit }, s.options));
  ops.push(await prepareInfoNceBackward(ctx, s.dims, s.mode, { z, preds, rowLse, negIdx, dPreds, dZ, ...scratch }, s.options));
  ops.push(await preparePredictorBackward(ctx, s.dims, { c, weight, dPreds, dC, dWeight: dW, dBias: dB }));
  // Poison the outputs first: every element must be written, none may keep a stale value.
  const nan = (t: Tensor) => ctx.device.queue.writeBuffer(t.buffer, t.byteOffset, new Float32Array(t.byteLength / 4).fill(NaN));
  for (const t of [preds, rowLoss, rowLse, metrics, dPreds, dZ, dC, dW, ...(dB ? [dB] : [])]) nan(t);
  await runOps(ctx, ops);
  const out: GpuRun = {
    preds: await download(ctx, preds), rowLoss: await download(ctx, rowLoss), rowLse: await download(ctx, rowLse),
    metrics: await download(ctx, metrics), dPreds: await download(ctx, dPreds), dZ: await download(ctx, dZ),
    dC: await download(ctx, dC), dW: await download(ctx, dW), dB: dB ? await download(ctx, dB) : null,
    negIdx: negIdx ? Uint32Array.from(await download(ctx, negIdx)) : null,
  };
  for (const t of created) t.buffer.destroy();
  return out;
}

export function problem(s: Setup) {
  const { B, T, C, H, K } = s.dims;
  return {
    z: s.zeroZ ? new Float64Array(B * T * C) : f32(randomArray(B * T * C, s.seed, s.zScale ?? 1)),
    c: f32(randomArray(B * T * H, s.seed + 1, s.cScale ?? 1)),
    w: f32(randomArray(K * C * H, s.seed + 2, 1 / Math.sqrt(H))),
    b: s.bias ? f32(randomArray(K * C, s.seed + 3, 0.1)) : null,
  };
}

export async function checkAgainstOracle(s: Setup): Promise<{ maxAbsScore: number; gpu: GpuRun }> {
  const ctx = await testDevice();
  const { B, T, C, H, K } = s.dims;
  const data = problem(s);
  const gpu = await runGpu(ctx, s, data);
  let mode: OracleMode;
  if (s.mode.kind === 'sampled') {
    const want = sampleNegatives(negativeSamplingSeed(SAMPLER_SEED, STEP), { B, T, K }, s.mode.n, s.mode.shared);
    expect(Array.from(gpu.negIdx!), 'GPU sampler vs sampleNegatives').toEqual(Array.from(want));
    mode = { kind: 'sampled', n: s.mode.n, negIdx: want };
  } else mode = s.mode;
  const W = headsOf(data.w, K), Bs = data.b ? headsOf(data.b, K) : null;
  const fwd = infoNceForward(data.z, data.c, W, Bs, s.dims, mode);
  const grads = infoNceBackward(data.z, data.c, W, Bs, s.dims, mode);

  // Predictions: γ_{H+1}(Σ|W c| + |b|), as in predictor.test.ts.
  const lin = { N: B * T, In: H, Out: C };
  const magP = new Float64Array(K * B * T * C);
  for (let k = 0; k < K; k++) magP.set(linearForward(abs(data.c), abs(W[k]!), Bs ? abs(Bs[k]!) : null, lin), k * B * T * C);
  const dp = magP.map((m) => gamma(H + 1) * m);
  expectWithin(gpu.preds, fwd.preds, dp, 'preds');

  const bound = infoNceBounds(data.z, fwd.preds, dp, fwd.rowLse, s.dims, mode);
  expectWithin(gpu.rowLse, fwd.rowLse, bound.rowLse, 'rowLse');
  expectWithin(gpu.rowLoss, fwd.rowLoss, bound.rowLoss, 'rowLoss');
  const L = infoNceMetricsLayout(K);
  expect(gpu.metrics.length).toBe(L.length);
  expectWithin([gpu.metrics[L.loss]!], [fwd.loss], [bound.loss], 'metrics.loss');
  expectWithin(gpu.metrics.subarray(L.lossPerK, L.lossPerK + K), fwd.lossPerK, bound.lossPerK, 'metrics.lossPerK');
  for (let k = 0; k < K; k++) {
    // Accuracy is exact except for rows whose positive and best other score are closer than the
    // score error (2E): either verdict is right there.
    // The metric is hits/count in f32 (relative error ≤ u), so it rounds back to the exact count.
    const count = B * (T - k - 1);
    const hits = gpu.metrics[L.accPerK + k]! * count;
    expect(Math.abs(hits - Math.round(hits)), 'accuracy is a count over rows').toBeLessThan(1e-3);
    const diff = Math.abs(Math.round(hits) - Math.round(fwd.accPerK[k]! * count));
    expect(diff, `accuracy of step ${k + 1}: ${gpu.metrics[L.accPerK + k]} vs ${fwd.accPerK[k]}`).toBeLessThanOrEqual(bound.ambiguousPerK[k]!);
  }

  expectWithin(gpu.dPreds, grads.dPreds, bound.dPreds, 'dPreds');
  expectWithin(gpu.dZ, grads.dz, bound.dZ, 'dZ');

  // Through the predictors: ΔdC ≤ Σ |ΔdP||W| + γ_{K·C} Σ |dP||W|; ΔdW ≤ Σ |ΔdP||c| + γ_{B·T} Σ |dP||c|.
  const bdC = new Float64Array(B * T * H);
  const bdW: Float64Array[] = [], bdB: Float64Array[] = [];
  const dPh = headsOf(grads.dPreds, K), bDPh = headsOf(bound.dPreds, K);
  for (let k = 0; k < K; k++) {
    const prop = linearBackward(abs(data.c), abs(W[k]!), bDPh[k]!, lin);
    const mag = linearBackward(abs(data.c), abs(W[k]!), abs(dPh[k]!), lin);
    prop.dx.forEach((v, i) => { bdC[i] += v + gamma(K * C) * mag.dx[i]!; });
    bdW.push(prop.dw.map((v, i) => v + gamma(B * T) * mag.dw[i]!));
    bdB.push(prop.db.map((v, i) => v + gamma(B * T) * mag.db[i]!));
  }
  const cat = (xs: Float64Array[]) => { const o = new Float64Array(xs.reduce((a, x) => a + x.length, 0)); let p = 0; for (const x of xs) { o.set(x, p); p += x.length; } return o; };
  expectWithin(gpu.dC, grads.dc, bdC, 'dC');
  expectWithin(gpu.dW, cat(grads.dPredW), cat(bdW), 'dWeight');
  if (gpu.dB) expectWithin(gpu.dB, cat(grads.dPredB!), cat(bdB), 'dBias');
  let maxAbsScore = 0;
  for (const x of fwd.rowLse) maxAbsScore = Math.max(maxAbsScore, Math.abs(x));
  return { maxAbsScore, gpu };
}
