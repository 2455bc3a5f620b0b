// GRU test problems: f32-representable random data, the float64 oracle run on exactly those values,
// and a GPU run of prepareGruForward / prepareGruBackward on the same problem.
import type { GpuContext } from '../../src/runtime/device.ts';
import { runOps } from '../../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../../src/runtime/tensor.ts';
import {
  gruBackwardScratch, gruForwardScratch, gruSavedSpec, prepareGruBackward, prepareGruForward,
  type GruBackwardOptions, type GruDims, type ScratchSpec,
} from '../../src/shaders/gru.ts';
import { gruBackward, gruForward, randomArray, type GruGrads } from '../reference/index.ts';
import { expectClose } from './compare.ts';
import { download, upload } from './gpu.ts';

export interface GruProblem {
  dims: GruDims;
  x: Float64Array;
  h0: Float64Array;
  weightIh: Float64Array;
  weightHh: Float64Array;
  biasIh: Float64Array;
  biasHh: Float64Array;
  dOut: Float64Array;
  dhT: Float64Array | null;
  /** Prior contents of dx (what accumulate adds to). */
  dxPrior: Float64Array;
}

const f32 = (a: Float64Array) => a.map(Math.fround);

/**
 * PyTorch's GRU init scale U(−1/√H, 1/√H) ≈ N(0, 1/(3H)); unit-scale inputs and output gradients,
 * as the encoder and the InfoNCE head produce. `h0Zero` gives PyTorch's default initial state.
 */
export function gruProblem(dims: GruDims, seed: number, o: { h0Zero?: boolean; dhT?: boolean } = {}): GruProblem {
  const { B, T, C, H } = dims;
  const ws = 1 / Math.sqrt(3 * H);
  return {
    dims,
    x: f32(randomArray(B * T * C, seed + 1)),
    h0: o.h0Zero ? new Float64Array(B * H) : f32(randomArray(B * H, seed + 2, 0.5)),
    weightIh: f32(randomArray(3 * H * C, seed + 3, ws)),
    weightHh: f32(randomArray(3 * H * H, seed + 4, ws)),
    biasIh: f32(randomArray(3 * H, seed + 5, ws)),
    biasHh: f32(randomArray(3 * H, seed + 6, ws)),
    dOut: f32(randomArray(B * T * H, seed + 7)),
    dhT: o.dhT ? f32(randomArray(B * H, seed + 8)) : null,
    dxPrior: f32(randomArray(B * T * C, seed + 9)),
  };
}

export function gruOracle(p: GruProblem): { h: Float64Array; grads: GruGrads } {
  const dims = { B: p.dims.B, T: p.dims.T, Cin: p.dims.C, H: p.dims.H };
  const params = { weightIh: p.weightIh, weightHh: p.weightHh, biasIh: p.biasIh, biasHh: p.biasHh };
  const { h, cache } = gruForward(p.x, p.h0, params, dims);
  return { h, grads: gruBackward(cache, p.dOut, p.dhT) };
}

export function allocScratch(ctx: GpuContext, specs: ScratchSpec[]): Record<string, Tensor> {
  return Object.fromEntries(specs.map((s) => [s.name, createTensor(ctx, s.shape, s.dtype, s.name)]));
}

export interface GruGpuResult {
  h: Float64Array;
  dx: Float64Array;
  dh0: Float64Array;
  dWeightIh: Float64Array;
  dWeightHh: Float64Array;
  dBiasIh: Float64Array;
  dBiasHh: Float64Array;
}

export async function runGruGpu(
  ctx: GpuContext, p: GruProblem, opts: GruBackwardOptions = {},
): Promise<GruGpuResult> {
  const { B, T, C, H } = p.dims;
  const params = {
    weightIh: upload(ctx, [3 * H, C], p.weightIh, 'f32', 'weightIh'),
    weightHh: upload(ctx, [3 * H, H], p.weightHh, 'f32', 'weightHh'),
    biasIh: upload(ctx, [3 * H], p.biasIh, 'f32', 'biasIh'),
    biasHh: upload(ctx, [3 * H], p.biasHh, 'f32', 'biasHh'),
  };
  const x = upload(ctx, [B, T, C], p.x, 'f32', 'x');
  const h0 = upload(ctx, [B, H], p.h0, 'f32', 'h0');
  const out = createTensor(ctx, [B, T, H], 'f32', 'out');
  const saved = createTensor(ctx, gruSavedSpec(p.dims).shape, 'f32', 'saved');
  const fwd = await prepareGruForward(ctx, {
    x, h0, params, out, saved, scratch: allocScratch(ctx, gruForwardScratch(p.dims)) as never,
  }, opts);
  const g = {
    dx: upload(ctx, [B, T, C], p.dxPrior, 'f32', 'dx'),
    dh0: createTensor(ctx, [B, H], 'f32', 'dh0'),
    dWeightIh: createTensor(ctx, [3 * H, C], 'f32', 'dWeightIh'),
    dWeightHh: createTensor(ctx, [3 * H, H], 'f32', 'dWeightHh'),
    dBiasIh: createTensor(ctx, [3 * H], 'f32', 'dBiasIh'),
    dBiasHh: createTensor(ctx, [3 * H], 'f32', 'dBiasHh'),
  };
  const bwd = await prepareGruBackward(ctx, {
    dOut: upload(ctx, [B, T, H], p.dOut, 'f32', 'dOut'),
    dhT: p.dhT ? upload(ctx, [B, H], p.dhT, 'f32', 'dhT') : null,
    x, h0, out, saved, params, ...g,
    scratch: allocScratch(ctx, gruBackwardScratch(p.dims)) as never,
  }, opts);
  await runOps(ctx, [fwd, bwd]);
  return {
    h: await download(ctx, out),
    dx: await download(ctx, g.dx),
    dh0: await download(ctx, g.dh0),
    dWeightIh: await download(ctx, g.dWeightIh),
    dWeightHh: await download(ctx, g.dWeightHh),
    dBiasIh: await download(ctx, g.dBiasIh),
    dBiasHh: await download(ctx, g.dBiasHh),
  };
}

// Tolerances. u = 2⁻²⁴ (f32 unit roundoff); inputs are f32-exact (gruProblem rounds them), so every
// difference is the kernels' own rounding. Two sources, per output element:
//  1. Its own reduction of n terms, accumulated in f32: with random-sign terms of rms τ the partial
//     sums grow like √m·τ, each addition errs ≤ u·|partial|, so the error ≈ u·τ·n/√2 ≈ u·√n·rms(result)
//     (the result's rms is ≈ √n·τ).
//  2. The error of the terms themselves, carried by the recurrence: each step's pre-activations are
//     sums of C + H + 2 (forward) or 3H (BPTT carry) terms of a state already off from earlier steps.
//     At PyTorch's weight scale 1/√(3H) the per-step gain is ≤ ~1 (z-gated state, σ' ≤ ¼, tanh' ≤ 1),
//     so these relative errors add like a random walk over T steps: ≈ u·√(T·(C + 3H + 2)), and reach
//     the output scaled by its rms again.
// atol = SAFETY · u · max(1, rms(ref)) · (√n + √(T·(C + 3H + 2))), rtol = 0. SAFETY = 8 covers the
// few-ulp exp/tanh of the software GPU. Observed (T = 128, up to the paper shape): the reductions
// over B·T (dW, db) sit 12–25× below their bound; the state, dx and dh0 ~200× below, because the
// random walk over all T steps is a worst case the gated state does not reach (it forgets). Real
// bugs (a swapped gate, b_hn outside r ⊙ (…), a skipped step, h_{t−1} off by one step, h0 ignored)
// move values by ≳ rms/√(B·T): two or more orders of magnitude above every bound here.
const U = 2 ** -24;
const SAFETY = 8;

function rms(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s / a.length);
}

function atol(ref: ArrayLike<number>, reduction: number, d: GruDims): number {
  return SAFETY * U * Math.max(1, rms(ref)) * (Math.sqrt(reduction) + Math.sqrt(d.T * (d.C + 3 * d.H + 2)));
}

/** Every output of a GPU run vs the float64 oracle, within the bounds derived above. */
export function expectGruMatchesOracle(p: GruProblem, got: GruGpuResult, accumulate: boolean): void {
  const { B, T, C, H } = p.dims;
  const want = gruOracle(p);
  const g = want.grads;
  const dxWant = accumulate ? g.dx.map((v, i) => v + p.dxPrior[i]!) : g.dx;
  const M = B * T;
  const tag = `B=${B} T=${T} C=${C} H=${H}`;
  expectClose(got.h, want.h, atol(want.h, C + H + 2, p.dims), 0, `${tag} out`);
  expectClose(got.dx, dxWant, atol(dxWant, 3 * H + 1, p.dims), 0, `${tag} dx`);
  expectClose(got.dh0, g.dh0, atol(g.dh0, 3 * H + 1, p.dims), 0, `${tag} dh0`);
  expectClose(got.dWeightIh, g.dWeightIh, atol(g.dWeightIh, M, p.dims), 0, `${tag} dWeightIh`);
  expectClose(got.dWeightHh, g.dWeightHh, atol(g.dWeightHh, M, p.dims), 0, `${tag} dWeightHh`);
  expectClose(got.dBiasIh, g.dBiasIh, atol(g.dBiasIh, M, p.dims), 0, `${tag} dBiasIh`);
  expectClose(got.dBiasHh, g.dBiasHh, atol(g.dBiasHh, M, p.dims), 0, `${tag} dBiasHh`);
}
