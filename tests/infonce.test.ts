// Fused InfoNCE (forward, backward, metrics, sampler) vs the float64 oracle, through the whole
// predictor → InfoNCE → InfoNCE backward → predictor backward chain as the trainer runs it.
// Tolerances: tests/helpers/infonceRun.ts (the chain and its checks) and infonceBounds.ts.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/runtime/device.ts';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { runOps } from '../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../src/runtime/tensor.ts';
import {
  infoNceMetricsLayout, negativeSamplingSeed, prepareInfoNceBackward, prepareInfoNceForward, prepareNegativeSampler,
  type InfoNceMode,
} from '../src/shaders/infonce.ts';
import { sampleNegatives } from './reference/index.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { checkAgainstOracle, problem, runGpu, type Dims, type GpuRun, type Setup } from './helpers/infonceRun.ts';

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
