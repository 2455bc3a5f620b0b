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
import code from './predictor.wgsl?raw';

export const predictorShader = { name: 'predictor', code } as const;

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
export async function preparePredictorForward(ctx: GpuContext, dims: PredictorDims, t: PredictorForwardTensors): Promise<PreparedOp> {
  const op = 'predictorForward';
  checkPredictorDims(op, dims);
  const { B, T, C, H, K } = dims;
  checkF32(op, 'c', t.c, [B, T, H]);
  checkF32(op, 'weight', t.weight, [K, C, H]);
  if (t.bias) checkF32(op, 'bias', t.bias, [K, C]);
  checkF32(op, 'preds', t.preds, [K, B, T, C]);
  checkBindable(ctx, op, { ...t }, shapesOf(dims));
  const invocations = K * (C / 4) * ceilDiv(B * T, 4);
  const spec: DispatchSpec = {
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
export async function preparePredictorBackward(ctx: GpuContext, dims: PredictorDims, t: PredictorBackwardTensors): Promise<PreparedOp> {
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
  const consts = constants(dims);
  const C4 = C / 4, H4 = H / 4;
  const specs: DispatchSpec[] = [
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
