import { describe, expect, it } from 'vitest';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import {
  checkConv1dLimits, conv1dBackwardScratch, conv1dForwardScratch, encoderStackDims, planConv1dBackward, planConv1dForward,
  type Conv1dDims,
} from '../src/shaders/conv1d.ts';
import { backwardErr, forwardErr } from './helpers/convBounds.ts';
import {
  allocSpecs, convLayerOracle, convLayerProblem, runConvLayerGpu, type ConvLayerGpuResult, type ConvLayerProblem,
} from './helpers/convData.ts';
import { expectWithin } from './helpers/compare.ts';
import { testDevice } from './helpers/gpu.ts';

// Error bounds: derived per element in tests/helpers/convBounds.ts (Higham's γ_n bound on every
// f32 sum with the absolute sums taken from the float64 oracle; inputs are f32-exact). Here every
// layer's inputs are exact and the backward reads the oracle's y / xhat / rstd (rounded to f32),
// so both sides use the same ReLU mask and each pass is held to its own rounding error.

function checkLayer(p: ConvLayerProblem, got: ConvLayerGpuResult, o = convLayerOracle(p)): void {
  const { d } = p;
  const tag = `l${d.layer + 1} B=${d.B} Cin=${d.Cin} Tin=${d.Tin} Cout=${d.Cout} K=${d.K} s=${d.stride} norm=${d.norm}`;
  const fb = forwardErr(o, null);
  expectWithin(got.y, o.y, fb.y, `${tag} y`);
  if (d.norm) {
    expectWithin(got.xhat!, o.xhat!, fb.xhat!, `${tag} xhat`);
    expectWithin(got.rstd!, o.rstd!, fb.rstd!, `${tag} rstd`);
  }
  const bb = backwardErr(o, null, null, null);
  expectWithin(got.dw, o.dw, bb.dw, `${tag} dWeight`);
  expectWithin(got.db, o.db, bb.db, `${tag} dBias`);
  if (got.dx) expectWithin(got.dx, o.dx, bb.dx, `${tag} dx`);
  if (d.norm) {
    expectWithin(got.dgamma!, o.dgamma!, bb.dgamma!, `${tag} dNormWeight`);
    expectWithin(got.dbeta!, o.dbeta!, bb.dbeta!, `${tag} dNormBias`);
  }
}

function dims(o: Omit<Conv1dDims, 'Tout'>): Conv1dDims {
  return { ...o, Tout: Math.floor((o.Tin - o.K) / o.stride) + 1 };
}

describe('conv1d layer forward + backward vs the float64 oracle', () => {
  it('waveform layer (Cin = 1, k = 10, s = 5), B = 1, Cout = 12, no dx', async () => {
    const ctx = await testDevice();
    const p = convLayerProblem(dims({ layer: 0, B: 1, Cin: 1, Tin: 103, Cout: 12, K: 10, stride: 5, norm: false }), 1);
    checkLayer(p, await runConvLayerGpu(ctx, p));
  });

  it('waveform layer with norm, B = 3, Cout = 20', async () => {
    const ctx = await testDevice();
    const p = convLayerProblem(dims({ layer: 0, B: 3, Cin: 1, Tin: 211, Cout: 20, K: 10, stride: 5, norm: true }), 2);
    checkLayer(p, await runConvLayerGpu(ctx, p));
  });

  it('vec4 path (Cin = 8), k = 8, s = 4 with a remainder, Cout = 12, B = 2', async () => {
    const ctx = await testDevice();
    const p = convLayerProblem(dims({ layer: 1, B: 2, Cin: 8, Tin: 50, Cout: 12, K: 8, stride: 4, norm: false }), 3);
    checkLayer(p, await runConvLayerGpu(ctx, p));
  });

  it('scalar path (Cin = 10, Cout = 10, not multiples of 4), k = 4, s = 2, norm, B = 3', async () => {
    const ctx = await testDevice();
    const p = convLayerProblem(dims({ layer: 2, B: 3, Cin: 10, Tin: 37, Cout: 10, K: 4, stride: 2, norm: true }), 4);
    checkLayer(p, await runConvLayerGpu(ctx, p));
  });

  it('k not a multiple of s (k = 5, s = 3), Cin = 4, Cout = 7, norm', async () => {
    const ctx = await testDevice();
    const p = convLayerProblem(dims({ layer: 3, B: 2, Cin: 4, Tin: 29, Cout: 7, K: 5, stride: 3, norm: true }), 5);
    checkLayer(p, await runConvLayerGpu(ctx, p));
  });

  it('many workgroups and dW chunks: C = 64, k = 4, s = 2, B = 2, both lane-sharing modes agree bitwise', async () => {
    const ctx = await testDevice();
    const p = convLayerProblem(dims({ layer: 4, B: 2, Cin: 64, Tin: 201, Cout: 64, K: 4, stride: 2, norm: false }), 6);
    const o = convLayerOracle(p);
    const portable = await runConvLayerGpu(ctx, p, { lanes: 'portable', workgroupSize: 64 }, o);
    checkLayer(p, portable, o);
    if (ctx.has('subgroups')) {
      const sg = await runConvLayerGpu(ctx, p, { lanes: 'subgroup', workgroupSize: 64 }, o);
      expect(Array.from(sg.y)).toEqual(Array.from(portable.y));
      expect(Array.from(sg.dw)).toEqual(Array.from(portable.dw));
      expect(Array.from(sg.dx!)).toEqual(Array.from(portable.dx!));
    }
  });

  it('is bitwise deterministic across runs (fixed-order reductions)', async () => {
    const ctx = await testDevice();
    // The dims of the scalar-path case (its pipelines are already built), new data.
    const p = convLayerProblem(dims({ layer: 2, B: 3, Cin: 10, Tin: 37, Cout: 10, K: 4, stride: 2, norm: true }), 7);
    const o = convLayerOracle(p);
    const a = await runConvLayerGpu(ctx, p, {}, o);
    const b = await runConvLayerGpu(ctx, p, {}, o);
    checkLayer(p, a, o);
    for (const k of ['y', 'dw', 'db', 'dx', 'dgamma', 'dbeta'] as const) expect(Array.from(b[k]!), k).toEqual(Array.from(a[k]!));
  });
});

describe('conv1d shapes, limits and errors', () => {
  it('encoderStackDims: the paper stack gives 20480 → 4095 → 1022 → 510 → 254 → 126', () => {
    const ds = encoderStackDims({ L: 20480, B: 8, channels: 512, kernels: [10, 8, 4, 4, 4], strides: [5, 4, 2, 2, 2] });
    expect(ds.map((d) => d.Tout)).toEqual([4095, 1022, 510, 254, 126]);
    expect(ds.map((d) => d.Cin)).toEqual([1, 512, 512, 512, 512]);
    expect(ds[3]!.Tin).toBe(510);
  });

  it('encoderStackDims names the layer whose length drops below 1', () => {
    expect(() => encoderStackDims({ L: 200, B: 1, channels: 8, kernels: [10, 8, 4, 4, 4], strides: [5, 4, 2, 2, 2] }))
      .toThrow(/encoderStackDims: layer 3: input length 3 is shorter than its kernel 4/);
    expect(() => encoderStackDims({ L: 100, B: 1, channels: 8, kernels: [10, 8], strides: [5] })).toThrow(ShapeError);
  });

  it('refuses wrong tensor shapes with the op, the tensor and the layer dims named', async () => {
    const ctx = await testDevice();
    const d = dims({ layer: 1, B: 2, Cin: 8, Tin: 50, Cout: 12, K: 8, stride: 4, norm: false });
    const t = (shape: number[], label: string) => createTensor(ctx, shape, 'f32', label);
    const good = {
      x: t([2, 50, 8], 'x'), weight: t([12, 8, 8], 'w'), bias: t([12], 'b'), y: t([2, 11, 12], 'y'),
      scratch: allocSpecs(ctx, conv1dForwardScratch(d), 's') as { wT: ReturnType<typeof t> },
    };
    expect(() => planConv1dForward(ctx, d, { ...good, weight: t([12, 8, 4], 'w2') }))
      .toThrow(/conv1dForward\.l2: weight has shape \[12, 8, 4\], expected \[12, 8, 8\].*Cin=8.*K=8/);
    expect(() => planConv1dForward(ctx, d, { ...good, y: t([2, 12, 12], 'y2') }))
      .toThrow(/conv1dForward\.l2: y has shape \[2, 12, 12\], expected \[2, 11, 12\]/);
    expect(() => planConv1dForward(ctx, { ...d, norm: true }, good)).toThrow(/normWeight \[12\] is required/);
    expect(() => planConv1dForward(ctx, { ...d, Tout: 12 }, good)).toThrow(/Tout must be floor\(\(Tin − K\)\/stride\) \+ 1 = 11/);
    const bs = allocSpecs(ctx, conv1dBackwardScratch(d, { inputGrad: true }), 'bs');
    const back = {
      x: good.x, weight: good.weight, y: good.y, dy: good.y, dx: t([2, 50, 8], 'dx'), dWeight: t([12, 8, 8], 'dw'), dBias: t([12], 'db'),
      scratch: bs as Parameters<typeof planConv1dBackward>[2]['scratch'],
    };
    expect(() => planConv1dBackward(ctx, d, back)).not.toThrow();
    expect(() => planConv1dBackward(ctx, d, { ...back, dx: t([2, 49, 8], 'dx2') })).toThrow(/conv1dBackward\.l2: dx has shape \[2, 49, 8\], expected \[2, 50, 8\]/);
    expect(() => planConv1dBackward(ctx, d, { ...back, scratch: { ...back.scratch, wdT: undefined } })).toThrow(/scratch\.wdT \[4, 24, 8\] is required/);
    expect(() => planConv1dForward(ctx, d, good, { workgroupSize: 4096 })).toThrow(LimitExceededError);
  });

  it('refuses a config beyond maxStorageBufferBindingSize before allocating, naming op, tensor and limit', async () => {
    const ctx = await testDevice();
    // The paper's first layer at B = 64: y = [64, 4095, 512] f32 = 537 MB > any default binding limit.
    const [d1] = encoderStackDims({ L: 20480, B: 64, channels: 512, kernels: [10, 8, 4, 4, 4], strides: [5, 4, 2, 2, 2] });
    const big = 4 * 64 * 4095 * 512;
    expect(big).toBeGreaterThan(ctx.limits.maxStorageBufferBindingSize);
    expect(() => checkConv1dLimits(ctx, d1!)).toThrow(LimitExceededError);
    expect(() => checkConv1dLimits(ctx, d1!)).toThrow(/conv1dForward\.l1 \(y \[64, 4095, 512\]\): needs maxStorageBufferBindingSize = 536739840/);
  });
});
