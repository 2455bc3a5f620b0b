// Conv1d test problems: seeded f32-exact inputs, layout conversion between the oracle's
// [B, C, T] and the kernels' channels-last [B, T, C], and a GPU runner for one layer.
import type { GpuContext } from '../../src/runtime/device.ts';
import { runOps } from '../../src/runtime/kernel.ts';
import { createTensor, type DType, type Tensor } from '../../src/runtime/tensor.ts';
import { fromF16Array, toF16Array } from '../../src/runtime/f16.ts';
import {
  conv1dBackwardScratch, conv1dForwardScratch, conv1dSavedTensors, prepareConv1dBackward, prepareConv1dForward,
  type Conv1dDims, type Conv1dOptions, type Conv1dTensorSpec,
} from '../../src/shaders/conv1d.ts';
import { randomArray } from '../reference/index.ts';
import { abs, layerOracle, type LayerOracle } from './convBounds.ts';
import { download, upload } from './gpu.ts';

/** Rounds to f32 so the GPU sees exactly the values the oracle uses. */
export function f32(a: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(a));
}

/** Rounds to f16 (nearest even) so an f16 input holds exactly the values the oracle uses. */
export function f16(a: Float64Array): Float64Array {
  return Float64Array.from(fromF16Array(toF16Array(a)));
}

/** [B, C, T] → [B, T, C] */
export function toChannelsLast(a: ArrayLike<number>, B: number, C: number, T: number): Float64Array {
  const o = new Float64Array(B * C * T);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) o[(b * T + t) * C + c] = a[(b * C + c) * T + t]!;
  return o;
}

/** [B, T, C] → [B, C, T] */
export function toChannelsFirst(a: ArrayLike<number>, B: number, C: number, T: number): Float64Array {
  const o = new Float64Array(B * C * T);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) o[(b * C + c) * T + t] = a[(b * T + t) * C + c]!;
  return o;
}

export interface ConvLayerProblem {
  d: Conv1dDims;
  /** Oracle layouts ([B, C, T] activations, PyTorch parameters), all f32-exact. */
  x: Float64Array;
  w: Float64Array;
  b: Float64Array;
  gamma: Float64Array;
  beta: Float64Array;
  dy: Float64Array;
}

export function convLayerProblem(d: Conv1dDims, seed: number): ConvLayerProblem {
  const fan = d.Cin * d.K;
  return {
    d,
    // Layer inputs are post-ReLU activations except the waveform: keep the sign mix of a waveform
    // for layer 0 and use |·| elsewhere, as in the encoder.
    x: f32(d.layer === 0 ? randomArray(d.B * d.Cin * d.Tin, seed) : abs(randomArray(d.B * d.Cin * d.Tin, seed))),
    w: f32(randomArray(d.Cout * fan, seed + 1, 1 / Math.sqrt(fan))),
    b: f32(randomArray(d.Cout, seed + 2, 0.1)),
    gamma: f32(Float64Array.from(randomArray(d.Cout, seed + 3, 0.2), (v) => 1 + v)),
    beta: f32(randomArray(d.Cout, seed + 4, 0.1)),
    dy: f32(randomArray(d.B * d.Cout * d.Tout, seed + 5)),
  };
}

/** The float64 oracle for one layer (conv → [norm] → ReLU) and its backward; [B, C, T] layouts. */
export function convLayerOracle(p: ConvLayerProblem): LayerOracle {
  return layerOracle(p.d, p.x, p, p.dy);
}

export function allocSpecs(ctx: GpuContext, specs: Conv1dTensorSpec[], prefix: string): Record<string, Tensor> {
  const o: Record<string, Tensor> = {};
  for (const s of specs) o[s.name] = createTensor(ctx, s.shape, s.dtype, `${prefix}.${s.name}`);
  return o;
}

export interface ConvLayerGpuResult {
  y: Float64Array;
  xhat: Float64Array | null;
  rstd: Float64Array | null;
  dx: Float64Array | null;
  dw: Float64Array;
  db: Float64Array;
  dgamma: Float64Array | null;
  dbeta: Float64Array | null;
}

/**
 * Runs the layer forward on the GPU, then its backward. The backward reads the ORACLE's y (and
 * xhat, rstd), rounded to f32, so both sides use the same ReLU mask and each pass is checked
 * against its own error bound; channels-last results are converted back to [B, C, T].
 */
export async function runConvLayerGpu(
  ctx: GpuContext, p: ConvLayerProblem, opts: Conv1dOptions & { inputGrad?: boolean; xType?: DType; yType?: DType } = {},
  oracle = convLayerOracle(p),
): Promise<ConvLayerGpuResult> {
  const { d } = p;
  const { xType = 'f32', yType = 'f32', ...kernelOpts } = opts;
  const savedType: DType = d.storage === 'f16' ? 'f16' : 'f32';
  const inputGrad = opts.inputGrad ?? d.layer > 0;
  const xShape = d.layer === 0 && d.Cin === 1 ? [d.B, d.Tin] : [d.B, d.Tin, d.Cin];
  const yShape = [d.B, d.Tout, d.Cout];
  const x = upload(ctx, xShape, toChannelsLast(p.x, d.B, d.Cin, d.Tin), xType, 'x');
  const weight = upload(ctx, [d.Cout, d.Cin, d.K], p.w, 'f32', 'w');
  const bias = upload(ctx, [d.Cout], p.b, 'f32', 'b');
  const normWeight = upload(ctx, [d.Cout], p.gamma, 'f32', 'gamma');
  const normBias = upload(ctx, [d.Cout], p.beta, 'f32', 'beta');
  const y = createTensor(ctx, yShape, yType, 'y');
  const saved = allocSpecs(ctx, conv1dSavedTensors(d), 'saved');
  const fwd = await prepareConv1dForward(ctx, d, {
    x, weight, bias, y, normWeight, normBias, xhat: saved.xhat, rstd: saved.rstd,
    scratch: allocSpecs(ctx, conv1dForwardScratch(d), 'fs') as { wT: Tensor },
  }, kernelOpts);
  await runOps(ctx, [fwd]);
  const res: ConvLayerGpuResult = {
    y: toChannelsFirst(await download(ctx, y), d.B, d.Cout, d.Tout),
    xhat: saved.xhat ? toChannelsFirst(await download(ctx, saved.xhat), d.B, d.Cout, d.Tout) : null,
    rstd: saved.rstd ? await download(ctx, saved.rstd) : null,
    dx: null, dw: new Float64Array(0), db: new Float64Array(0), dgamma: null, dbeta: null,
  };
  // Backward on the oracle's forward values (rounded to the storage types).
  const yRef = upload(ctx, yShape, toChannelsLast(f32(oracle.y), d.B, d.Cout, d.Tout), yType, 'yRef');
  const xhatRef = d.norm ? upload(ctx, yShape, toChannelsLast(f32(oracle.xhat!), d.B, d.Cout, d.Tout), savedType, 'xhatRef') : undefined;
  const rstdRef = d.norm ? upload(ctx, [d.B, d.Tout], f32(oracle.rstd!), 'f32', 'rstdRef') : undefined;
  const dy = upload(ctx, yShape, toChannelsLast(p.dy, d.B, d.Cout, d.Tout), 'f32', 'dy');
  const dx = inputGrad ? createTensor(ctx, xShape, 'f32', 'dx') : null;
  const dWeight = createTensor(ctx, [d.Cout, d.Cin, d.K], 'f32', 'dw');
  const dBias = createTensor(ctx, [d.Cout], 'f32', 'db');
  const dNormWeight = createTensor(ctx, [d.Cout], 'f32', 'dgamma');
  const dNormBias = createTensor(ctx, [d.Cout], 'f32', 'dbeta');
  const scratch = allocSpecs(ctx, conv1dBackwardScratch(d, { inputGrad }), 'bs');
  const bwd = await prepareConv1dBackward(ctx, d, {
    x, weight, y: yRef, dy, dx, dWeight, dBias, normWeight, xhat: xhatRef, rstd: rstdRef, dNormWeight, dNormBias,
    scratch: scratch as Parameters<typeof prepareConv1dBackward>[2]['scratch'],
  }, kernelOpts);
  await runOps(ctx, [bwd]);
  res.dx = dx ? toChannelsFirst(await download(ctx, dx), d.B, d.Cin, d.Tin) : null;
  res.dw = await download(ctx, dWeight);
  res.db = await download(ctx, dBias);
  if (d.norm) {
    res.dgamma = await download(ctx, dNormWeight);
    res.dbeta = await download(ctx, dNormBias);
  }
  return res;
}
