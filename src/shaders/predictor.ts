// Launchers for the CPC predictor heads (DESIGN §1): preds = W_k c (+ b_k) for k = 1..K in one
// dispatch, and the backward.
//
// Layouts (all f32):
//   c        [B, T, H]      context from the GRU (channels last)
//   weight   [K, C, H]      predictors.{k-1}.weight ([C, H], PyTorch) stacked, head k−1 at (k−1)·C·H
//   bias     [K, C]         optional predictors.{k-1}.bias
//   preds    [K, B, T, C]   every t is predicted (rows t + k ≥ T are computed but unused)
//   dPreds   [K, B, T, C]   rows t + k ≥ T are IGNORED by the backward (InfoNCE gives them none)
//   dC       [B, T, H]      overwritten
//   dWeight  [K, C, H], dBias [K, C]   overwritten; each a fixed-order sum over B·(T−k) rows
// C and H must be multiples of 4 (vec4 channel loads). No temporaries.
import type { GpuContext } from '../runtime/device.ts';
import { ShapeError, assertShape, type Shapes } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type DispatchSpec, type PreparedOp } from '../runtime/kernel.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { grid1d } from './elementwise.ts';
import { isSoftwareAdapter, type KernelVariant } from '../runtime/variants.ts';
import code from './predictor.wgsl?raw';
import sharedCode from './predictorShared.wgsl?raw';

export const predictorShader = { name: 'predictor', code } as const;
export const predictorSharedShader = { name: 'predictorShared', code: sharedCode } as const;

/**
 * How the three GEMMs run. 'register' (predictor.wgsl): barrier-free register tiles. 'wgmem'
 * (predictorShared.wgsl): 32 × 32 output tiles per 64-invocation workgroup, staging `stageQuads`
 * reduction quads of both operands in workgroup memory per barrier pair.
 */
export interface PredictorOptions {
  kernel?: 'register' | 'wgmem';
  /** wgmem only: reduction quads per stage, 1..16 (default 4). */
  stageQuads?: number;
}

/** 32 × 32 tiles of predictorShared.wgsl. */
const SHARED_TILE = 32;

/**
 * The predictor variants valid on this device, the default first (src/runtime/variants.ts). Software
 * adapters start with the register tiles (barrier-free: ~10× faster than workgroup-memory tiling on
 * lavapipe, DESIGN §6); GPUs with the workgroup-memory tiles, by GPU principles (each vec4 loaded
 * once per 64 invocations; not measured here: no GPU). The two stage depths trade workgroup memory
 * (4 vs 8 KiB, occupancy) against barriers per reduction.
 */
export function predictorVariants(ctx: GpuContext, _dims: PredictorDims, _phase: 'forward' | 'backward'): KernelVariant<PredictorOptions>[] {
  const wgmem: KernelVariant<PredictorOptions>[] = [4, 8]
    .filter((q) => sharedBytes(q) <= ctx.limits.maxComputeWorkgroupStorageSize && ctx.limits.maxComputeInvocationsPerWorkgroup >= 64)
    .map((q) => ({ id: `wgmem32.q${q}`, options: { kernel: 'wgmem', stageQuads: q } }));
  const register: KernelVariant<PredictorOptions> = { id: 'register', options: { kernel: 'register' } };
  return isSoftwareAdapter(ctx) ? [register, ...wgmem] : [...wgmem, register];
}

function sharedBytes(stageQuads: number): number {
  return 2 * 16 * SHARED_TILE * stageQuads;
}

function resolveOptions(ctx: GpuContext, op: string, dims: PredictorDims, o: PredictorOptions): { shared: boolean; kq: number } {
  const kernel = o.kernel ?? 'register';
  if (kernel !== 'register' && kernel !== 'wgmem') throw new ShapeError(op, `kernel must be 'register' or 'wgmem', got '${String(kernel)}'`, { ...dims });
  const kq = o.stageQuads ?? 4;
  if (kernel === 'wgmem') {
    if (!Number.isInteger(kq) || kq < 1 || kq > 16) throw new ShapeError(op, `stageQuads must be an integer in 1..16, got ${kq}`, { ...dims });
    ctx.checkLimit(op, 'maxComputeWorkgroupStorageSize', sharedBytes(kq), { ...dims, stageQuads: kq });
    ctx.checkLimit(op, 'maxComputeInvocationsPerWorkgroup', 64, { ...dims });
  }
  return { shared: kernel === 'wgmem', kq };
}

function sharedConstants(d: PredictorDims, kq: number): Record<string, number> {
  return { T: d.T, BT: d.B * d.T, C4: d.C / 4, H4: d.H / 4, K: d.K, KQ: kq, SV4: SHARED_TILE * kq };
}

export interface PredictorDims {
  B: number;
  T: number;
  C: number;
  H: number;
  K: number;
}

const WG = 64;

export function checkPredictorDims(op: string, dims: PredictorDims): void {
  const { B, T, C, H, K } = dims;
  for (const [name, v] of Object.entries({ B, T, C, H, K })) {
    if (!Number.isInteger(v) || v <= 0) throw new ShapeError(op, `${name} must be a positive integer, got ${v}`, { ...dims });
  }
  if (K >= T) throw new ShapeError(op, `need K < T so every prediction step has rows (K=${K}, T=${T})`, { ...dims });
  if (C % 4 !== 0 || H % 4 !== 0) {
    throw new ShapeError(op, `C and H must be multiples of 4 (vec4 channel loads), got C=${C}, H=${H}`, { ...dims });
  }
}

function checkF32(op: string, name: string, t: Tensor, shape: number[]): void {
  assertShape(op, name, t.shape, shape);
  if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`);
}

/** Every binding must fit maxStorageBufferBindingSize; refused here, before any pipeline is built. */
export function checkBindable(ctx: GpuContext, op: string, tensors: Record<string, Tensor | null>, shapes: Shapes): void {
  for (const t of Object.values(tensors)) {
    if (t) ctx.checkLimit(op, 'maxStorageBufferBindingSize', t.byteLength, shapes);
  }
}

function constants(d: PredictorDims): Record<string, number> {
  return { T: d.T, BT: d.B * d.T, C4: d.C / 4, H4: d.H / 4, K: d.K, WG };
}

function shapesOf(d: PredictorDims): Shapes {
  return { c: [d.B, d.T, d.H], weight: [d.K, d.C, d.H], preds: [d.K, d.B, d.T, d.C] };
}

export interface PredictorForwardTensors {
  c: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  preds: Tensor;
}

/** preds[k, b, t, :] = weight[k] c[b, t, :] (+ bias[k]). */
export async function preparePredictorForward(
  ctx: GpuContext, dims: PredictorDims, t: PredictorForwardTensors, opts: PredictorOptions = {},
): Promise<PreparedOp> {
  const op = 'predictorForward';
  checkPredictorDims(op, dims);
  const { B, T, C, H, K } = dims;
  checkF32(op, 'c', t.c, [B, T, H]);
  checkF32(op, 'weight', t.weight, [K, C, H]);
  if (t.bias) checkF32(op, 'bias', t.bias, [K, C]);
  checkF32(op, 'preds', t.preds, [K, B, T, C]);
  checkBindable(ctx, op, { ...t }, shapesOf(dims));
  const o = resolveOptions(ctx, op, dims, opts);
  const invocations = K * (C / 4) * ceilDiv(B * T, 4);
  const spec: DispatchSpec = o.shared ? {
    shader: predictorSharedShader,
    entryPoint: t.bias ? 'forwardBiasShared' : 'forwardShared',
    constants: sharedConstants(dims, o.kq),
    bindings: t.bias ? [t.c, t.weight, t.preds, t.bias] : [t.c, t.weight, t.preds],
    workgroups: [ceilDiv(B * T, SHARED_TILE), ceilDiv(C, SHARED_TILE), K],
  } : {
    shader: predictorShader,
    entryPoint: t.bias ? 'forwardBias' : 'forward',
    constants: constants(dims),
    bindings: t.bias ? [t.c, t.weight, t.preds, t.bias] : [t.c, t.weight, t.preds],
    workgroups: grid1d(ctx, ceilDiv(invocations, WG)),
  };
  const n = B * T;
  return prepareDispatches(ctx, op, shapesOf(dims), [spec], {
    flops: 2 * K * n * C * H,
    bytes: 4 * (n * H + K * C * H + K * n * C),
  });
}

export interface PredictorBackwardTensors {
  c: Tensor;
  weight: Tensor;
  dPreds: Tensor;
  dC: Tensor;
  dWeight: Tensor;
  /** null when the heads have no bias. */
  dBias: Tensor | null;
}

/** dC = Σ_k dPreds_k W_k, dWeight_k = dPreds_kᵀ c, dBias_k = Σ dPreds_k, over rows t + k < T. */
export async function preparePredictorBackward(
  ctx: GpuContext, dims: PredictorDims, t: PredictorBackwardTensors, opts: PredictorOptions = {},
): Promise<PreparedOp> {
  const op = 'predictorBackward';
  checkPredictorDims(op, dims);
  const { B, T, C, H, K } = dims;
  checkF32(op, 'c', t.c, [B, T, H]);
  checkF32(op, 'weight', t.weight, [K, C, H]);
  checkF32(op, 'dPreds', t.dPreds, [K, B, T, C]);
  checkF32(op, 'dC', t.dC, [B, T, H]);
  checkF32(op, 'dWeight', t.dWeight, [K, C, H]);
  if (t.dBias) checkF32(op, 'dBias', t.dBias, [K, C]);
  checkBindable(ctx, op, { ...t }, shapesOf(dims));
  const o = resolveOptions(ctx, op, dims, opts);
  const consts = constants(dims);
  const C4 = C / 4, H4 = H / 4;
  const sc = sharedConstants(dims, o.kq);
  const specs: DispatchSpec[] = o.shared ? [
    {
      shader: predictorSharedShader, entryPoint: 'backwardInputShared', constants: sc,
      bindings: [t.dPreds, t.weight, t.dC], workgroups: [ceilDiv(B * T, SHARED_TILE), ceilDiv(H, SHARED_TILE)],
    },
    {
      shader: predictorSharedShader, entryPoint: 'backwardWeightShared', constants: sc,
      bindings: [t.dPreds, t.c, t.dWeight], workgroups: [ceilDiv(C, SHARED_TILE), ceilDiv(H, SHARED_TILE), K],
    },
  ] : [
    {
      shader: predictorShader, entryPoint: 'backwardInput', constants: consts,
      bindings: [t.dPreds, t.weight, t.dC],
      workgroups: grid1d(ctx, ceilDiv(H4 * ceilDiv(B * T, 4), WG)),
    },
    {
      shader: predictorShader, entryPoint: 'backwardWeight', constants: consts,
      bindings: [t.dPreds, t.c, t.dWeight],
      workgroups: grid1d(ctx, ceilDiv(K * ceilDiv(C4, 2) * ceilDiv(H4, 2), WG)),
    },
  ];
  if (t.dBias) {
    specs.push({
      shader: predictorShader, entryPoint: 'backwardBias', constants: consts,
      bindings: [t.dPreds, t.dBias],
      workgroups: grid1d(ctx, ceilDiv(K * C4, WG)),
    });
  }
  // Valid rows only: Σ_k B·(T − k).
  const rows = B * (K * T - (K * (K + 1)) / 2);
  return prepareDispatches(ctx, op, shapesOf(dims), specs, {
    flops: 4 * rows * C * H + (t.dBias ? rows * C : 0),
    bytes: 4 * (2 * K * B * T * C + 2 * B * T * H + 2 * K * C * H),
  });
}
