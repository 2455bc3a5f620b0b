// Fused InfoNCE (forward, backward, metrics, sampler) vs the float64 oracle, through the whole
// predictor → InfoNCE → InfoNCE backward → predictor backward chain as the trainer runs it.
// Tolerances: tests/helpers/infonceBounds.ts derives a per-element bound for every output from the
// f32 error model (γ_n sums, WGSL exp/log accuracy); the predictions' own bound γ_{H+1}·Σ|W c|+|b|
// is propagated through it, and dC/dW/dB add γ_{K·C} / γ_{B·T} of their own sums.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/runtime/device.ts';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { runOps } from '../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../src/runtime/tensor.ts';
import {
  infoNceBackwardScratch, infoNceForwardScratch, infoNceMetricsLayout, negativeSamplingSeed,
  prepareInfoNceBackward, prepareInfoNceForward, prepareNegativeSampler, type InfoNceMode,
} from '../src/shaders/infonce.ts';
import { preparePredictorBackward, preparePredictorForward } from '../src/shaders/predictor.ts';
import {
  infoNceBackward, infoNceForward, linearBackward, linearForward, randomArray, sampleNegatives,
  type InfoNceMode as OracleMode,
} from './reference/index.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { expectWithin } from './helpers/compare.ts';
import { abs, f32, gamma } from './helpers/infonceCheck.ts';
import { infoNceBounds } from './helpers/infonceBounds.ts';

interface Dims { B: number; T: number; C: number; H: number; K: number }

interface Setup {
  dims: Dims;
  mode: InfoNceMode;
  seed: number;
  bias: boolean;
  /** scales of z and c (scores grow as their product) */
  zScale?: number;
  cScale?: number;
  /** replace z by zeros: every score ties at 0 */
  zeroZ?: boolean;
}

const SAMPLER_SEED = 1234;
const STEP = 7;

interface GpuRun {
  preds: Float64Array; rowLoss: Float64Array; rowLse: Float64Array; metrics: Float64Array;
  dPreds: Float64Array; dZ: Float64Array; dC: Float64Array; dW: Float64Array; dB: Float64Array | null;
  negIdx: Uint32Array | null;
}

function headsOf(x: Float64Array, K: number): Float64Array[] {
  const n = x.length / K;
  return Array.from({ length: K }, (_, k) => x.slice(k * n, (k + 1) * n));
}

async function runGpu(ctx: GpuContext, s: Setup, data: { z: Float64Array; c: Float64Array; w: Float64Array; b: Float64Array | null }): Promise<GpuRun> {
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
  ops.push(await prepareInfoNceForward(ctx, s.dims, s.mode, { z, preds, negIdx, rowLoss, rowLse, metrics, rowHit }));
  ops.push(await prepareInfoNceBackward(ctx, s.dims, s.mode, { z, preds, rowLse, negIdx, dPreds, dZ, ...scratch }));
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

function problem(s: Setup) {
  const { B, T, C, H, K } = s.dims;
  return {
    z: s.zeroZ ? new Float64Array(B * T * C) : f32(randomArray(B * T * C, s.seed, s.zScale ?? 1)),
    c: f32(randomArray(B * T * H, s.seed + 1, s.cScale ?? 1)),
    w: f32(randomArray(K * C * H, s.seed + 2, 1 / Math.sqrt(H))),
    b: s.bias ? f32(randomArray(K * C, s.seed + 3, 0.1)) : null,
  };
}

async function checkAgainstOracle(s: Setup): Promise<{ maxAbsScore: number; gpu: GpuRun }> {
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

// B = 3 is not a multiple of the 4-row tile; B·T = 42 batch-time candidates and n + 1 = 11 sampled
// ones are not multiples of the 8-candidate tile; K = 12 leaves only T − 12 = 2 rows in the last step.
const small = (K: number): Dims => ({ B: 3, T: 14, C: 12, H: 8, K });
const MODES: InfoNceMode[] = [{ kind: 'batch' }, { kind: 'batch-time' }, { kind: 'sampled', n: 10 }, { kind: 'sampled', n: 10, shared: true }];
const label = (m: InfoNceMode) => (m.kind === 'sampled' && m.shared ? 'sampled shared' : m.kind);

describe('InfoNCE vs float64 oracle', () => {
  for (const mode of MODES) {
    for (const K of [1, 12]) {
      it(`${label(mode)}, K=${K}, B=3, T=14, C=12, H=8${K === 12 ? ', bias' : ''}`, async () => {
        await checkAgainstOracle({ dims: small(K), mode, seed: 100 + K, bias: K === 12 });
      });
    }
  }

  for (const mode of MODES) {
    it(`${label(mode)}: scores of magnitude 1e4 stay finite and accurate`, async () => {
      const { maxAbsScore, gpu } = await checkAgainstOracle({ dims: small(12), mode, seed: 7, bias: true, zScale: 60, cScale: 60 });
      expect(maxAbsScore, 'the test must actually reach |score| ~ 1e4').toBeGreaterThan(5e3);
      for (const [name, x] of Object.entries(gpu)) {
        if (x instanceof Float64Array) expect(x.every(Number.isFinite), `${name} finite`).toBe(true);
      }
    });
  }

  it('all-tied scores: every row counts as correct and the loss is log(candidates)', async () => {
    for (const mode of MODES) {
      const { gpu } = await checkAgainstOracle({ dims: small(12), mode, seed: 9, bias: true, zeroZ: true });
      const L = infoNceMetricsLayout(12);
      expect(Array.from(gpu.metrics.subarray(L.accPerK, L.accPerK + 12)), mode.kind).toEqual(new Array(12).fill(1));
      const nc = mode.kind === 'batch' ? 3 : mode.kind === 'batch-time' ? 42 : mode.n + 1;
      // Every row's loss is log(nc) (1 exact term per candidate): a few ulps, γ_nc of the sum.
      expect(Math.abs(gpu.metrics[L.loss]! - Math.log(nc)), mode.kind).toBeLessThan(1e-5);
    }
  });

  it('sampler is bit-identical to sampleNegatives for another seed and step', async () => {
    const ctx = await testDevice();
    const dims = { B: 5, T: 9, K: 3 }, n = 13;
    const seedStep = upload(ctx, [2], [0xdeadbeef, 123456], 'u32', 'seedStep');
    const negIdx = createTensor(ctx, [3, 5, 9, n], 'u32', 'negIdx');
    await runOps(ctx, [await prepareNegativeSampler(ctx, dims, n, { seedStep, negIdx })]);
    const want = sampleNegatives(negativeSamplingSeed(0xdeadbeef, 123456), dims, n);
    expect(Array.from(await download(ctx, negIdx))).toEqual(Array.from(want));
    expect(new Set(want).size, 'draws cover many frames').toBeGreaterThan(30);
  });

  it('shared sampler (CPC_audio: one set per position, every k) is bit-identical to sampleNegatives(…, shared)', async () => {
    const ctx = await testDevice();
    const dims = { B: 5, T: 9, K: 3 }, n = 13, frames = 45;
    const seedStep = upload(ctx, [2], [0xdeadbeef, 123456], 'u32', 'seedStep');
    const negIdx = createTensor(ctx, [3, 5, 9, n], 'u32', 'negIdx');
    await runOps(ctx, [await prepareNegativeSampler(ctx, dims, n, { seedStep, negIdx }, true)]);
    const got = Uint32Array.from(await download(ctx, negIdx));
    const want = sampleNegatives(negativeSamplingSeed(0xdeadbeef, 123456), dims, n, true);
    expect(Array.from(got)).toEqual(Array.from(want));
    // The property itself, on the GPU's output: step k's slab equals step 1's, position by position.
    const slab = frames * n;
    for (let k = 1; k < 3; k++) expect(Array.from(got.subarray(k * slab, (k + 1) * slab)), `k=${k + 1}`).toEqual(Array.from(got.subarray(0, slab)));
    const perRow = sampleNegatives(negativeSamplingSeed(0xdeadbeef, 123456), dims, n, false);
    expect(Array.from(got.subarray(slab)), 'k ≥ 2 differs from the per-row draw').not.toEqual(Array.from(perRow.subarray(slab)));
  });

  for (const mode of [{ kind: 'batch-time' }, { kind: 'sampled', n: 10 }, { kind: 'sampled', n: 10, shared: true }] as InfoNceMode[]) {
    it(`${label(mode)}: two runs give bitwise identical losses and gradients`, async () => {
      const ctx = await testDevice();
      const s: Setup = { dims: small(12), mode, seed: 31, bias: true };
      const a = await runGpu(ctx, s, problem(s));
      const b = await runGpu(ctx, s, problem(s));
      for (const key of Object.keys(a) as (keyof GpuRun)[]) {
        const x = a[key], y = b[key];
        if (x) expect(Array.from(y!), key).toEqual(Array.from(x));
      }
    });
  }
});

describe('InfoNCE errors', () => {
  const dims = { B: 2, T: 5, C: 8, K: 2 };
  async function tensors(ctx: GpuContext) {
    return {
      z: createTensor(ctx, [2, 5, 8]), preds: createTensor(ctx, [2, 2, 5, 8]),
      rowLoss: createTensor(ctx, [2, 2, 5]), rowLse: createTensor(ctx, [2, 2, 5]),
      metrics: createTensor(ctx, [5]), rowHit: createTensor(ctx, [2, 2, 5], 'u32'),
    };
  }

  it('rejects wrong shapes, dtypes and configs naming the op and shapes', async () => {
    const ctx = await testDevice();
    const t = await tensors(ctx);
    await expect(prepareInfoNceForward(ctx, dims, { kind: 'batch' }, { ...t, z: createTensor(ctx, [2, 8, 5]) }))
      .rejects.toThrow(/infoNceForward\.batch: z has shape \[2, 8, 5\], expected \[2, 5, 8\]/);
    await expect(prepareInfoNceForward(ctx, dims, { kind: 'batch' }, { ...t, rowHit: createTensor(ctx, [2, 2, 5]) }))
      .rejects.toThrow(/rowHit must be u32, got f32/);
    await expect(prepareInfoNceForward(ctx, dims, { kind: 'sampled', n: 4 }, t))
      .rejects.toThrow(/infoNceForward\.sampled: negIdx is required/);
    await expect(prepareInfoNceForward(ctx, { ...dims, C: 6 }, { kind: 'batch' }, t))
      .rejects.toThrow(ShapeError);
    await expect(prepareInfoNceForward(ctx, { ...dims, C: 6 }, { kind: 'batch' }, t))
      .rejects.toThrow(/C must be a multiple of 4.*\(B=2, T=5, C=6, K=2, mode=batch\)/);
    await expect(prepareInfoNceForward(ctx, { ...dims, K: 5 }, { kind: 'batch-time' }, t))
      .rejects.toThrow(/need K < T/);
    await expect(prepareInfoNceBackward(ctx, dims, { kind: 'sampled', n: 0 }, { ...t, dPreds: t.preds, dZ: t.z }))
      .rejects.toThrow(/n ≥ 1/);
    await expect(prepareInfoNceBackward(ctx, dims, { kind: 'sampled', n: 3 }, {
      ...t, dPreds: t.preds, dZ: t.z, negIdx: createTensor(ctx, [2, 2, 5, 3], 'u32'),
    })).rejects.toThrow(/infoNceBackward\.sampled: negCounts is required/);
  });

  it('refuses a config beyond maxStorageBufferBindingSize before WebGPU sees it', async () => {
    const ctx = await testDevice();
    const big = { B: 64, T: 1000, C: 512, K: 12 };
    const fake = (shape: number[], dtype: 'f32' | 'u32' = 'f32'): Tensor => ({
      shape, dtype, buffer: null as unknown as GPUBuffer, byteOffset: 0, byteLength: 4 * shape.reduce((a, b) => a * b, 1), label: 'fake',
    });
    const t = {
      z: fake([64, 1000, 512]), preds: fake([12, 64, 1000, 512]), rowLoss: fake([12, 64, 1000]), rowLse: fake([12, 64, 1000]),
      metrics: fake([25]), rowHit: fake([12, 64, 1000], 'u32'),
    };
    const p = prepareInfoNceForward(ctx, big, { kind: 'batch-time' }, t);
    await expect(p).rejects.toThrow(LimitExceededError);
    await expect(prepareInfoNceForward(ctx, big, { kind: 'batch-time' }, t))
      .rejects.toThrow(/infoNceForward\.batch-time: needs maxStorageBufferBindingSize = 1572864000/);
  });

  it('an out-of-range negative index makes that row\'s loss NaN instead of scoring another frame', async () => {
    const ctx = await testDevice();
    const t = await tensors(ctx);
    const n = 3;
    const idx = new Uint32Array(2 * 2 * 5 * n).fill(1);
    idx[(0 * 5 + 2) * n + 1] = 10; // row (k=1, b=0, t=2): frame 10 = B·T is out of range
    const negIdx = upload(ctx, [2, 2, 5, n], idx, 'u32', 'negIdx');
    await runOps(ctx, [await prepareInfoNceForward(ctx, dims, { kind: 'sampled', n }, { ...t, negIdx })]);
    const loss = await download(ctx, t.rowLoss);
    expect(Number.isNaN(loss[2]!)).toBe(true);
    expect(loss.filter((x) => Number.isNaN(x)).length).toBe(1);
    expect(Number.isNaN((await download(ctx, t.metrics))[0]!)).toBe(true);
  });
});
