// Launcher for the global gradient norm (gradNorm.wgsl), the first half of the optimizer step.
//
// Layouts (all f32):
//   grads    [P]                    the flat gradient buffer (same layout as params)
//   partials [numPartials]          scratch, see gradNormScratch(); −1 marks a non-finite chunk
//   normOut  [GRAD_NORM_STATS_LEN]  [‖g‖₂, nonFinite (1.0 / 0.0), Σg², 0]; ‖g‖ and Σg² are NaN
//                                   when nonFinite is set. Read by the Adam kernel (clip scale,
//                                   skip flag) and by the trainer as its gradient statistics.
import type { GpuContext } from '../runtime/device.ts';
import { ShapeError, assertPositiveInt, assertShape, type Shapes } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type PreparedOp } from '../runtime/kernel.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { grid1d } from './elementwise.ts';
import code from './gradNorm.wgsl?raw';

export const gradNormShader = { name: 'gradNorm', code } as const;

export const GRAD_NORM_STATS_LEN = 4;
/** Indices into the stats tensor. */
export const GRAD_NORM_STAT = { norm: 0, nonFinite: 1, sumSquares: 2 } as const;

/**
 * Stage-1 threads per workgroup and vec4s per thread: one chunk = WG·ITEMS·4 = 16384 floats.
 * Measured on lavapipe at P = 7.4M (paper model): ITEMS 16 → 9.2 ms (115k partials: the single
 * stage-2 workgroup and the partial writes dominate), 64 → 4.4 ms, 256 → 4.1 ms; 64 keeps ~450
 * workgroups for a real GPU to spread over its cores, where 256 would leave ~110.
 */
export const GRAD_NORM_WG = 64;
export const GRAD_NORM_ITEMS = 64;
export const GRAD_NORM_CHUNK = GRAD_NORM_WG * GRAD_NORM_ITEMS * 4;
/** Threads of the single stage-2 workgroup (power of two: fixed-order tree). */
export const GRAD_NORM_FINAL_WG = 256;

export interface GradNormPlan {
  P: number;
  /** P / 4 rounded down: elements handled as vec4; the ≤ 3 others are added in stage 2. */
  P4: number;
  chunks: number;
  numPartials: number;
  /**
   * Longest chain of f32 additions any squared gradient goes through (stage-1 thread, stage-2
   * strided loop, stage-2 tree, tail). Every term is non-negative, so the relative error of the
   * sum of squares is at most chainLength · 2^-24 (+ one rounding per square): tests derive their
   * tolerance from it.
   */
  chainLength: number;
}

export function gradNormPlan(P: number): GradNormPlan {
  assertPositiveInt('gradNorm', 'P', P);
  // The vec4 view needs a 16-byte binding; any real model has far more than 4 parameters.
  if (P < 4) throw new ShapeError('gradNorm', `P = ${P}: the flat parameter buffer needs at least 4 elements`, { P });
  const P4 = Math.floor(P / 4);
  // At least one chunk so the partials (and stage 2's reads) always exist, even for P < 4.
  const chunks = Math.max(1, ceilDiv(P4, GRAD_NORM_WG * GRAD_NORM_ITEMS));
  const numPartials = chunks * GRAD_NORM_WG;
  const chainLength = GRAD_NORM_ITEMS + 2 // ITEMS fmas per vec4 lane, then 2 adds fold the lanes
    + ceilDiv(numPartials, GRAD_NORM_FINAL_WG) + Math.log2(GRAD_NORM_FINAL_WG) + (P - 4 * P4);
  return { P, P4, chunks, numPartials, chainLength };
}

/** Scratch of prepareGradNorm: the stage-1 partial sums. */
export function gradNormScratch(P: number): { name: string; shape: number[]; dtype: DType }[] {
  return [{ name: 'gradNorm.partials', shape: [gradNormPlan(P).numPartials], dtype: 'f32' }];
}

function expectTensor(op: string, name: string, t: Tensor, shape: readonly number[], shapes: Shapes): void {
  if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`, shapes);
  assertShape(op, name, t.shape, shape);
}

/** Throws when two tensors that a dispatch writes (or writes and reads) share bytes. */
export function assertDisjoint(op: string, named: Record<string, Tensor>, shapes?: Shapes): void {
  const list = Object.entries(named);
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [na, a] = list[i]!;
      const [nb, b] = list[j]!;
      if (a.buffer !== b.buffer) continue;
      if (a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength) {
        throw new ShapeError(op, `${na} [${a.byteOffset}, +${a.byteLength}) and ${nb} [${b.byteOffset}, +${b.byteLength}) overlap in buffer ${a.buffer.label}`, shapes);
      }
    }
  }
}

/**
 * Two dispatches: partial sums of squares over fixed chunks, then one workgroup that sums the
 * partials in a fixed order and writes `normOut`. Deterministic; no host round-trip.
 */
export function prepareGradNorm(
  ctx: GpuContext, dims: { P: number }, t: { grads: Tensor; partials: Tensor; normOut: Tensor },
): Promise<PreparedOp> {
  const op = 'gradNorm';
  const plan = gradNormPlan(dims.P);
  const { P, P4, chunks, numPartials } = plan;
  const shapes: Shapes = { P, grads: t.grads.shape, partials: t.partials.shape, normOut: t.normOut.shape };
  ctx.checkLimit(op, 'maxStorageBufferBindingSize', 4 * P, shapes);
  expectTensor(op, 'grads', t.grads, [P], shapes);
  expectTensor(op, 'partials', t.partials, [numPartials], shapes);
  expectTensor(op, 'normOut', t.normOut, [GRAD_NORM_STATS_LEN], shapes);
  assertDisjoint(op, { grads: t.grads, partials: t.partials, normOut: t.normOut }, shapes);
  const constants = {
    P, P4, WG: GRAD_NORM_WG, ITEMS: GRAD_NORM_ITEMS, NUM_PARTIALS: numPartials, FINAL_WG: GRAD_NORM_FINAL_WG,
  };
  return prepareDispatches(ctx, op, shapes, [
    { shader: gradNormShader, entryPoint: 'partialSums', constants, bindings: [t.grads, t.partials], workgroups: grid1d(ctx, chunks) },
    { shader: gradNormShader, entryPoint: 'finalize', constants, bindings: [t.grads, t.partials, t.normOut], workgroups: [1] },
  ], { flops: 2 * P, bytes: 4 * P + 8 * numPartials + 4 * GRAD_NORM_STATS_LEN });
}
