// Launchers for the unfused InfoNCE baseline (bench/infonceNaive.wgsl): scores → memory, then
// separate logsumexp, softmax-gradient and reduction kernels. The metrics reduction and the sampled
// mode's inverse index are the production ones, so the comparison isolates the fusion.
import type { GpuContext } from '../src/runtime/device.ts';
import { ceilDiv, prepareDispatches, type PreparedOp } from '../src/runtime/kernel.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { grid1d } from '../src/shaders/elementwise.ts';
import {
  candidatesPerRow, infoNceShader, negativeInverseDispatches, validRows, type InfoNceDims, type InfoNceMode,
} from '../src/shaders/infonce.ts';
import code from './infonceNaive.wgsl?raw';

const shader = { name: 'bench.infonceNaive', code } as const;
const WG = 64;

/** Bytes of the two materialised rows × candidates matrices (S and G). */
export function naiveMatrixBytes(dims: InfoNceDims, mode: InfoNceMode): number {
  return 2 * 4 * dims.K * dims.B * dims.T * candidatesPerRow(dims, mode);
}

/** S [K·B·T, NC] and G [K·B·T, NC] as 1-D f32 tensors. */
export function naiveMatrixShape(dims: InfoNceDims, mode: InfoNceMode): number[] {
  return [dims.K * dims.B * dims.T * candidatesPerRow(dims, mode)];
}

function consts(d: InfoNceDims, mode: InfoNceMode): Record<string, number> {
  return {
    B: d.B, T: d.T, C4: d.C / 4, K: d.K, WG,
    MODE: mode.kind === 'batch' ? 0 : mode.kind === 'batch-time' ? 1 : 2,
    N: mode.kind === 'sampled' ? mode.n : 1,
  };
}

export interface NaiveForwardTensors {
  z: Tensor; preds: Tensor; negIdx: Tensor; S: Tensor;
  rowLoss: Tensor; rowLse: Tensor; rowHit: Tensor; metrics: Tensor;
}

export function prepareNaiveForward(ctx: GpuContext, dims: InfoNceDims, mode: InfoNceMode, t: NaiveForwardTensors): Promise<PreparedOp> {
  const { B, T, C, K } = dims;
  const rows = K * B * T, nc = candidatesPerRow(dims, mode);
  const c = consts(dims, mode);
  return prepareDispatches(ctx, `infonceNaive.${mode.kind}.fwd`, { B, T, C, K }, [
    { shader, entryPoint: 'scores', constants: c, bindings: [t.z, t.preds, t.negIdx, t.S], workgroups: grid1d(ctx, ceilDiv(rows * nc, WG)) },
    { shader, entryPoint: 'rowStats', constants: c, bindings: [t.S, t.rowLoss, t.rowLse, t.rowHit], workgroups: grid1d(ctx, ceilDiv(rows, WG)) },
    { shader: infoNceShader, entryPoint: 'reduceMetrics', constants: { B, T, K }, bindings: [t.rowLoss, t.rowHit, t.metrics], workgroups: [1] },
  ], { flops: 2 * validRows(dims) * nc * C });
}

export interface NaiveBackwardTensors {
  z: Tensor; preds: Tensor; negIdx: Tensor; S: Tensor; rowLse: Tensor; G: Tensor;
  dPreds: Tensor; dZ: Tensor;
  /** sampled mode: the production inverse index scratch; any tensor otherwise */
  negCounts: Tensor; negBase: Tensor; negEntries: Tensor;
}

/** Uses the forward's S (a framework keeps it for the backward), so it does not recompute scores. */
export function prepareNaiveBackward(ctx: GpuContext, dims: InfoNceDims, mode: InfoNceMode, t: NaiveBackwardTensors): Promise<PreparedOp> {
  const { B, T, C, K } = dims;
  const rows = K * B * T, nc = candidatesPerRow(dims, mode);
  const c = consts(dims, mode);
  const inverse = mode.kind === 'sampled' ? negativeInverseDispatches(ctx, 'infonceNaive', dims, mode, t) : [];
  return prepareDispatches(ctx, `infonceNaive.${mode.kind}.bwd`, { B, T, C, K }, [
    ...inverse,
    { shader, entryPoint: 'softmaxGrad', constants: c, bindings: [t.S, t.rowLse, t.G], workgroups: grid1d(ctx, ceilDiv(rows * nc, WG)) },
    { shader, entryPoint: 'gradPreds', constants: c, bindings: [t.z, t.G, t.negIdx, t.dPreds], workgroups: grid1d(ctx, ceilDiv(rows * (C / 4), WG)) },
    { shader, entryPoint: 'gradFrames', constants: c, bindings: [t.preds, t.G, t.negBase, t.negEntries, t.dZ], workgroups: grid1d(ctx, ceilDiv(B * T * (C / 4), WG)) },
  ], { flops: 4 * validRows(dims) * nc * C });
}
