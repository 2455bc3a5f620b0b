import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/runtime/device.ts';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import {
  conv1dForwardScratch, conv1dVariants, encoderStackDims, planConv1dForward, wgmemStorageBytes, type Conv1dDims,
} from '../src/shaders/conv1d.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import { backwardErr, forwardErr } from './helpers/convBounds.ts';
import {
  allocSpecs, convLayerOracle, convLayerProblem, runConvLayerGpu, type ConvLayerGpuResult, type ConvLayerProblem,
} from './helpers/convData.ts';
import { expectWithin } from './helpers/compare.ts';
import { testDevice } from './helpers/gpu.ts';

// Every conv variant conv1dVariants lists for this device (this file runs on lavapipe AND on
// SwiftShader: vitest.config.ts), forward and backward, against the float64 oracle with the
// derived per-element bounds of tests/helpers/convBounds.ts. Those bounds hold for any summation
// order (Higham's γ_n), so they are the bounds of every variant, not of one kernel's rounding.
// As in conv1d.test.ts the backward reads the oracle's y / xhat / rstd (rounded to f32), so the
// ReLU masks agree and each pass is held to its own rounding error.

function dims(o: Omit<Conv1dDims, 'Tout'>): Conv1dDims {
  return { ...o, Tout: Math.floor((o.Tin - o.K) / o.stride) + 1 };
}

// Shapes that hit the edges of every tiling (32 or 64 rows / columns, K steps of 16). Few on
// purpose: SwiftShader takes 2-4 s to compile each workgroup-memory pipeline (barriers become
// coroutines there), and every shape is new pipelines for every variant.
//  • the waveform layer, B = 1, no norm (the GEMM's bias + ReLU epilogue; RED = 10 < one K step;
//    its backward is the wave dW kernel with the fused ReLU backward, register variants only);
//  • one shape with all the other edges: odd Cin = 37 and Cout = 67 (scalar paths; 67 > 64: a
//    second, nearly empty column tile; NP = 72), RED = 185 (11 full K steps + 9), k = 5 not a
//    multiple of s = 3 (three dx phases, JM = 2; dx rows 2·101 = 202, not a multiple of 32), B·Tout
//    = 200 rows, three dW chunks of 67 frames (boundaries inside a batch, not multiples of 16),
//    dW rows RP = 188 (three 64-row tiles, the last partial), ChannelNorm on;
//  • the register tiles' vec4 paths (Cin = 8, Cout = 12, k = 8, s = 4 with a remainder), B = 2: the
//    wgmem kernels have no vec4 specialisation, so this shape runs the register variants only.
const SHAPES: Conv1dDims[] = [
  dims({ layer: 0, B: 1, Cin: 1, Tin: 203, Cout: 12, K: 10, stride: 5, norm: false }),
  dims({ layer: 3, B: 2, Cin: 37, Tin: 302, Cout: 67, K: 5, stride: 3, norm: true }),
  dims({ layer: 1, B: 2, Cin: 8, Tin: 50, Cout: 12, K: 8, stride: 4, norm: false }),
];
const REGISTER_ONLY = 2;

function checkLayer(tag: string, p: ConvLayerProblem, got: ConvLayerGpuResult, o: ReturnType<typeof convLayerOracle>): void {
  const { d } = p;
  const t = `${tag} l${d.layer + 1} B=${d.B} Cin=${d.Cin} Tin=${d.Tin} Cout=${d.Cout} K=${d.K} s=${d.stride} norm=${d.norm}`;
  const fb = forwardErr(o, null);
  expectWithin(got.y, o.y, fb.y, `${t} y`);
  if (d.norm) {
    expectWithin(got.xhat!, o.xhat!, fb.xhat!, `${t} xhat`);
    expectWithin(got.rstd!, o.rstd!, fb.rstd!, `${t} rstd`);
  }
  const bb = backwardErr(o, null, null, null);
  expectWithin(got.dw, o.dw, bb.dw, `${t} dWeight`);
  expectWithin(got.db, o.db, bb.db, `${t} dBias`);
  if (d.layer > 0) expectWithin(got.dx!, o.dx!, bb.dx, `${t} dx`);
  if (d.norm) {
    expectWithin(got.dgamma!, o.dgamma!, bb.dgamma!, `${t} dNormWeight`);
    expectWithin(got.dbeta!, o.dbeta!, bb.dbeta!, `${t} dNormBias`);
  }
}

const problems = SHAPES.map((d, i) => {
  const p = convLayerProblem(d, 40 + i);
  return { p, o: convLayerOracle(p), registerOnly: i === REGISTER_ONLY };
});

/** The union of both phases' lists (forward and backward options are one object per run). */
async function allVariants(ctx: GpuContext, d: Conv1dDims) {
  const seen = new Map<string, ReturnType<typeof conv1dVariants>[number]>();
  for (const phase of ['forward', 'backward'] as const) for (const v of conv1dVariants(ctx, d, phase)) seen.set(v.id, v);
  return [...seen.values()];
}

describe('conv1d variants vs the float64 oracle (this adapter)', async () => {
  const ctx = await testDevice();
  // Listed for the all-edges shape; every shape runs every id its own lists give.
  const ids = (await allVariants(ctx, SHAPES[1]!)).map((v) => v.id);

  for (const id of ids) {
    it(`${id}: forward + backward on the edge shapes`, async () => {
      let ran = 0;
      for (const { p, o, registerOnly } of problems) {
        const v = (await allVariants(ctx, p.d)).find((x) => x.id === id);
        if (!v || (registerOnly && v.options.wgmem)) continue;
        ran++;
        checkLayer(id, p, await runConvLayerGpu(ctx, p, v.options, o), o);
      }
      expect(ran).toBeGreaterThanOrEqual(2);
    });
  }

  it('every variant is bitwise deterministic: two runs, identical outputs', async () => {
    // The all-edges shape: its pipelines are built by now, and it has three dW chunks.
    const { p, o } = problems[1]!;
    for (const v of await allVariants(ctx, p.d)) {
      const a = await runConvLayerGpu(ctx, p, v.options, o);
      const b = await runConvLayerGpu(ctx, p, v.options, o);
      for (const k of ['y', 'xhat', 'rstd', 'dw', 'db', 'dx', 'dgamma', 'dbeta'] as const) {
        expect(Array.from(b[k]!), `${v.id} ${k}`).toEqual(Array.from(a[k]!));
      }
    }
  });

  it('today\'s variants all agree bitwise with the default (same ascending fma chain per output)', async () => {
    // A design property of these kernels, not of the variant contract (which allows rounding
    // differences): every GEMM variant sums each output as one fma chain in ascending reduction
    // order, so the tuner's choice does not change a single bit here. A future variant that
    // reorders sums (split-K, tree reductions) leaves this check and keeps the oracle tests.
    for (const { p, o, registerOnly } of problems.slice(1)) {
      const list = (await allVariants(ctx, p.d)).filter((v) => !(registerOnly && v.options.wgmem));
      const ref = await runConvLayerGpu(ctx, p, list[0]!.options, o);
      for (const v of list.slice(1)) {
        const got = await runConvLayerGpu(ctx, p, v.options, o);
        for (const k of ['y', 'dw', 'db', 'dx'] as const) {
          expect(Array.from(got[k]!), `${v.id} ${k} vs ${list[0]!.id}`).toEqual(Array.from(ref[k]!));
        }
      }
    }
  });
});

describe('conv1dVariants lists', () => {
  const paper = encoderStackDims({ L: 20480, B: 8, channels: 512, kernels: [10, 8, 4, 4, 4], strides: [5, 4, 2, 2, 2] });

  it('stable unique ids, today\'s register default first on this software adapter, at most 10 per phase', async () => {
    const ctx = await testDevice();
    for (const d of [...SHAPES, ...paper]) {
      for (const phase of ['forward', 'backward'] as const) {
        const list = conv1dVariants(ctx, d, phase);
        const ids = list.map((v) => v.id);
        expect(new Set(ids).size, ids.join()).toBe(ids.length);
        expect(ids.length).toBeLessThanOrEqual(10);
        expect(list[0]!.options.wgmem, ids[0]).toBeUndefined();
        expect(list[0]!.options.workgroupSize).toBe(16);
        for (const v of list) {
          if (v.options.wgmem) {
            const t = v.options.wgmem;
            expect(v.id).toBe(`wgmem.t${4 * t.wy}x${4 * t.wx}.wg${t.wy}x${t.wx}`);
            expect(wgmemStorageBytes(t)).toBeLessThanOrEqual(16384);
          }
        }
        // The waveform layer's backward has no wgmem form: none listed there.
        expect(ids.some((i) => i.startsWith('wgmem.'))).toBe(!(phase === 'backward' && d.layer === 0));
      }
    }
  });

  it('on a (pretend) GPU adapter the default is a wgmem tiling: 64×64 for big GEMMs, the most workgroups for small ones', async () => {
    const real = await testDevice();
    const gpu = Object.create(real, {
      adapter: { value: { vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3080', device: '', isFallbackAdapter: false } },
    }) as GpuContext;
    expect(conv1dVariants(gpu, paper[1]!, 'forward')[0]!.id).toBe('wgmem.t64x64.wg16x16');
    expect(conv1dVariants(gpu, paper[1]!, 'backward')[0]!.id).toBe('wgmem.t64x64.wg16x16');
    // 200 rows × 72 columns: 64×64 gives 8 workgroups, 32×32 gives 21 (the most).
    expect(conv1dVariants(gpu, SHAPES[1]!, 'forward')[0]!.id).toBe('wgmem.t32x32.wg8x8');
    // Register variants stay in the list, after the tilings, with the GPU workgroup size first.
    const ids = conv1dVariants(gpu, paper[1]!, 'forward').map((v) => v.id);
    expect(ids.filter((i) => !i.startsWith('wgmem.'))[0]).toMatch(/\.wg64$/);
  });

  it('refuses a tiling beyond the device limits, naming op and limit', async () => {
    const ctx = await testDevice();
    const d = { ...SHAPES[1]!, norm: false };
    const t = (shape: number[], label: string) => createTensor(ctx, shape, 'f32', label);
    const good = {
      x: t([d.B, d.Tin, d.Cin], 'x'), weight: t([d.Cout, d.Cin, d.K], 'w'), bias: t([d.Cout], 'b'), y: t([d.B, d.Tout, d.Cout], 'y'),
      scratch: allocSpecs(ctx, conv1dForwardScratch(d), 's') as { wT: ReturnType<typeof t> },
    };
    expect(() => planConv1dForward(ctx, d, good, { wgmem: { wx: 64, wy: 64 } }))
      .toThrow(/conv1dForward\.l4 \(wgmem 64×64 invocations\).*maxComputeInvocationsPerWorkgroup/);
    expect(() => planConv1dForward(ctx, d, good, { wgmem: { wx: 64, wy: 64 } })).toThrow(LimitExceededError);
    expect(() => planConv1dForward(ctx, d, good, { wgmem: { wx: 0, wy: 8 } })).toThrow(ShapeError);
    expect(() => planConv1dForward(ctx, d, good, { wgmem: { wx: 8, wy: 8 } })).not.toThrow();
  });
});
