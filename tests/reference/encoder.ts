// The CPC convolutional encoder: layer i = Conv1d(k_i, s_i, no padding) → [ChannelNorm] → ReLU.
// signal [B, L] is treated as [B, 1, L]; every layer has C output channels; z [B, C, T].

import { conv1dBackward, conv1dForward, conv1dOutputLength, type Conv1dDims } from './conv1d.ts';
import { reluBackward, reluForward } from './activations.ts';
import { channelNormBackward, channelNormForward } from './channelNorm.ts';

/** The paper's encoder: 160 samples per frame. */
export const DEFAULT_KERNELS: readonly number[] = [10, 8, 4, 4, 4];
export const DEFAULT_STRIDES: readonly number[] = [5, 4, 2, 2, 2];

export interface EncoderConfig {
  /** C: output channels of every layer */
  channels: number;
  kernels: readonly number[];
  strides: readonly number[];
  /** ChannelNorm between each conv and its ReLU */
  norm: boolean;
}

export interface EncoderParams {
  /** weight[i]: [C, Cin_i, k_i] with Cin_0 = 1, Cin_i = C after */
  weight: Float64Array[];
  /** bias[i]: [C] */
  bias: Float64Array[];
  /** normWeight[i], normBias[i]: [C], only used when cfg.norm */
  normWeight?: Float64Array[];
  normBias?: Float64Array[];
}

/** Same structure as EncoderParams, plus the gradient of the signal. */
export interface EncoderGrads extends EncoderParams {
  dSignal: Float64Array;
}

interface LayerCache {
  dims: Conv1dDims;
  /** layer input [B, Cin, L] */
  x: Float64Array;
  /** conv output [B, C, Lout] (norm input when cfg.norm) */
  conv: Float64Array;
  /** ReLU input [B, C, Lout]: the norm output when cfg.norm, else conv */
  preAct: Float64Array;
}

export interface EncoderCache {
  cfg: EncoderConfig;
  params: EncoderParams;
  B: number;
  L: number;
  T: number;
  layers: LayerCache[];
}

/** Frame count after the whole stack (no padding: every layer floors). */
export function encoderOutputLength(
  L: number,
  kernels: readonly number[] = DEFAULT_KERNELS,
  strides: readonly number[] = DEFAULT_STRIDES,
): number {
  let len = L;
  for (let i = 0; i < kernels.length; i++) len = conv1dOutputLength(len, kernels[i], strides[i]);
  return len;
}

/** The [C, Cin, k] shape of every layer's weight (layer 0 reads the 1-channel waveform). */
export function encoderWeightShapes(cfg: EncoderConfig): number[][] {
  return cfg.kernels.map((k, i) => [cfg.channels, i === 0 ? 1 : cfg.channels, k]);
}

function validate(cfg: EncoderConfig, params: EncoderParams): void {
  const n = cfg.kernels.length;
  if (cfg.strides.length !== n) throw new RangeError('encoder: kernels and strides differ in length');
  if (params.weight.length !== n || params.bias.length !== n) {
    throw new RangeError(`encoder: expected ${n} weights and biases`);
  }
  if (cfg.norm && (params.normWeight?.length !== n || params.normBias?.length !== n)) {
    throw new RangeError(`encoder: norm on but not ${n} normWeight/normBias`);
  }
}

export function encoderForward(
  signal: Float64Array,
  params: EncoderParams,
  cfg: EncoderConfig,
  /** batch size: a flat [B, L] array cannot tell B from L */
  B: number,
): { z: Float64Array; T: number; cache: EncoderCache } {
  validate(cfg, params);
  if (!Number.isInteger(B) || B <= 0 || signal.length % B !== 0) throw new RangeError('encoder: signal length not divisible by B');
  const L = signal.length / B;
  const C = cfg.channels;
  const layers: LayerCache[] = [];
  let x = signal;
  let len = L;
  let cin = 1;
  for (let i = 0; i < cfg.kernels.length; i++) {
    const dims: Conv1dDims = { B, Cin: cin, L: len, Cout: C, K: cfg.kernels[i], stride: cfg.strides[i] };
    const { y: conv, Lout } = conv1dForward(x, params.weight[i], params.bias[i], dims);
    const preAct = cfg.norm
      ? channelNormForward(conv, params.normWeight![i], params.normBias![i], { B, C, T: Lout }).y
      : conv;
    layers.push({ dims, x, conv, preAct });
    x = reluForward(preAct);
    len = Lout;
    cin = C;
  }
  return { z: x, T: len, cache: { cfg, params, B, L, T: len, layers } };
}

export function encoderBackward(cache: EncoderCache, dz: Float64Array): EncoderGrads {
  const { cfg, params, B } = cache;
  const n = cfg.kernels.length;
  const weight: Float64Array[] = new Array(n);
  const bias: Float64Array[] = new Array(n);
  const normWeight: Float64Array[] = new Array(n);
  const normBias: Float64Array[] = new Array(n);
  let g = dz;
  for (let i = n - 1; i >= 0; i--) {
    const { dims, x, conv, preAct } = cache.layers[i];
    const Lout = conv1dOutputLength(dims.L, dims.K, dims.stride);
    if (g.length !== B * cfg.channels * Lout) throw new RangeError(`encoder: gradient shape at layer ${i}`);
    let dConv = reluBackward(preAct, g);
    if (cfg.norm) {
      const nb = channelNormBackward(conv, params.normWeight![i], dConv, { B, C: cfg.channels, T: Lout });
      normWeight[i] = nb.dgamma;
      normBias[i] = nb.dbeta;
      dConv = nb.dx;
    }
    const cb = conv1dBackward(x, params.weight[i], dConv, dims);
    weight[i] = cb.dw;
    bias[i] = cb.db;
    g = cb.dx;
  }
  const grads: EncoderGrads = { weight, bias, dSignal: g };
  if (cfg.norm) {
    grads.normWeight = normWeight;
    grads.normBias = normBias;
  }
  return grads;
}
