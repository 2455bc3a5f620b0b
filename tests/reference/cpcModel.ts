// The whole CPC model in float64, composed from the layer references:
//   signal [B, L] → encoder → z [B, C, T] → transpose → [B, T, C] → GRU (h0 = 0) → c [B, T, H]
//   → InfoNCE(z, c) with K predictors.
// Parameters live in a Map keyed by PyTorch names so they match safetensors checkpoints.

import {
  DEFAULT_KERNELS,
  DEFAULT_STRIDES,
  encoderBackward,
  encoderForward,
  encoderWeightShapes,
  type EncoderCache,
  type EncoderParams,
} from './encoder.ts';
import { gruBackward, gruForward, type GruCache, type GruParams } from './gru.ts';
import { infoNceBackward, infoNceForward, sampleNegatives, type InfoNceDims, type InfoNceMode } from './infonce.ts';
import { mulberry32, randn } from './random.ts';

/** InfoNCE candidates; 'sampled' may give a seed instead of explicit indices (see sampleNegatives). */
export type CpcNegatives = InfoNceMode | { kind: 'sampled'; n: number; seed: number; shared?: boolean };

export interface CpcConfig {
  /** C: encoder channels (= the frame size the predictors produce) */
  channels: number;
  /** H: GRU hidden size */
  hidden: number;
  /** K: prediction steps */
  predictionSteps: number;
  kernels?: readonly number[];
  strides?: readonly number[];
  /** ChannelNorm in the encoder */
  norm: boolean;
  predictorBias: boolean;
  negatives: CpcNegatives;
  /** B: a flat [B, L] signal cannot tell B from L */
  batchSize: number;
}

const kernelsOf = (cfg: CpcConfig): readonly number[] => cfg.kernels ?? DEFAULT_KERNELS;
const stridesOf = (cfg: CpcConfig): readonly number[] => cfg.strides ?? DEFAULT_STRIDES;

/** Every parameter's PyTorch name and shape, in a stable order (encoder, gru, predictors). */
export function cpcParamShapes(cfg: CpcConfig): Map<string, number[]> {
  const C = cfg.channels;
  const H = cfg.hidden;
  const shapes = new Map<string, number[]>();
  const encCfg = { channels: C, kernels: kernelsOf(cfg), strides: stridesOf(cfg), norm: cfg.norm };
  encoderWeightShapes(encCfg).forEach((shape, i) => {
    shapes.set(`encoder.${i}.weight`, shape);
    shapes.set(`encoder.${i}.bias`, [C]);
    if (cfg.norm) {
      shapes.set(`encoder.${i}.norm.weight`, [C]);
      shapes.set(`encoder.${i}.norm.bias`, [C]);
    }
  });
  shapes.set('gru.weight_ih_l0', [3 * H, C]);
  shapes.set('gru.weight_hh_l0', [3 * H, H]);
  shapes.set('gru.bias_ih_l0', [3 * H]);
  shapes.set('gru.bias_hh_l0', [3 * H]);
  for (let k = 0; k < cfg.predictionSteps; k++) {
    shapes.set(`predictors.${k}.weight`, [C, H]);
    if (cfg.predictorBias) shapes.set(`predictors.${k}.bias`, [C]);
  }
  return shapes;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Random parameters for tests: N(0, 1/fan_in) weights (keeps activations O(1) through the
 * stack), small random biases, norm γ ≈ 1 and β ≈ 0 perturbed so their gradients are generic.
 */
export function cpcInitParams(cfg: CpcConfig, seed: number): Map<string, Float64Array> {
  const rng = mulberry32(seed);
  const params = new Map<string, Float64Array>();
  for (const [name, shape] of cpcParamShapes(cfg)) {
    const a = new Float64Array(numel(shape));
    const isNormWeight = name.endsWith('norm.weight');
    const fanIn = shape.length >= 2 ? numel(shape.slice(1)) : 1;
    const scale = shape.length >= 2 ? 1 / Math.sqrt(fanIn) : 0.1;
    for (let i = 0; i < a.length; i++) a[i] = (isNormWeight ? 1 : 0) + scale * randn(rng);
    params.set(name, a);
  }
  return params;
}

function get(params: Map<string, Float64Array>, name: string, shape: readonly number[]): Float64Array {
  const a = params.get(name);
  if (!a) throw new RangeError(`cpc: missing parameter ${name}`);
  if (a.length !== numel(shape)) throw new RangeError(`cpc: ${name} has ${a.length} entries, expected [${shape}]`);
  return a;
}

/** [B, X, Y] → [B, Y, X] */
function transpose12(a: Float64Array, B: number, X: number, Y: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let b = 0; b < B; b++) {
    for (let x = 0; x < X; x++) {
      for (let y = 0; y < Y; y++) out[(b * Y + y) * X + x] = a[(b * X + x) * Y + y];
    }
  }
  return out;
}

export interface CpcCache {
  cfg: CpcConfig;
  encoder: EncoderCache;
  gru: GruCache;
  /** [B, T, C] */
  zt: Float64Array;
  /** [B, T, H] */
  c: Float64Array;
  predW: Float64Array[];
  predB: Float64Array[] | null;
  dims: InfoNceDims;
  mode: InfoNceMode;
}

export interface CpcForward {
  loss: number;
  lossPerK: Float64Array;
  accPerK: Float64Array;
  cache: CpcCache;
}

function resolveMode(neg: CpcNegatives, dims: InfoNceDims): InfoNceMode {
  if (neg.kind === 'sampled' && 'seed' in neg) {
    return { kind: 'sampled', n: neg.n, negIdx: sampleNegatives(neg.seed, dims, neg.n, neg.shared === true) };
  }
  return neg as InfoNceMode;
}

export function cpcForward(signal: Float64Array, params: Map<string, Float64Array>, cfg: CpcConfig): CpcForward {
  const shapes = cpcParamShapes(cfg);
  const p = (name: string): Float64Array => get(params, name, shapes.get(name)!);
  const nLayers = kernelsOf(cfg).length;
  const layerIdx = Array.from({ length: nLayers }, (_, i) => i);
  const encParams: EncoderParams = {
    weight: layerIdx.map((i) => p(`encoder.${i}.weight`)),
    bias: layerIdx.map((i) => p(`encoder.${i}.bias`)),
  };
  if (cfg.norm) {
    encParams.normWeight = layerIdx.map((i) => p(`encoder.${i}.norm.weight`));
    encParams.normBias = layerIdx.map((i) => p(`encoder.${i}.norm.bias`));
  }
  const B = cfg.batchSize;
  const C = cfg.channels;
  const H = cfg.hidden;
  const K = cfg.predictionSteps;
  const enc = encoderForward(
    signal,
    encParams,
    { channels: C, kernels: kernelsOf(cfg), strides: stridesOf(cfg), norm: cfg.norm },
    B,
  );
  const T = enc.T;
  const zt = transpose12(enc.z, B, C, T);
  const gruParams: GruParams = {
    weightIh: p('gru.weight_ih_l0'),
    weightHh: p('gru.weight_hh_l0'),
    biasIh: p('gru.bias_ih_l0'),
    biasHh: p('gru.bias_hh_l0'),
  };
  const gru = gruForward(zt, null, gruParams, { B, T, Cin: C, H });
  const predW = Array.from({ length: K }, (_, k) => p(`predictors.${k}.weight`));
  const predB = cfg.predictorBias ? Array.from({ length: K }, (_, k) => p(`predictors.${k}.bias`)) : null;
  const dims: InfoNceDims = { B, T, C, H, K };
  const mode = resolveMode(cfg.negatives, dims);
  const nce = infoNceForward(zt, gru.h, predW, predB, dims, mode);
  return {
    loss: nce.loss,
    lossPerK: nce.lossPerK,
    accPerK: nce.accPerK,
    cache: { cfg, encoder: enc.cache, gru: gru.cache, zt, c: gru.h, predW, predB, dims, mode },
  };
}

/** Gradients of the loss (times dLoss) for every parameter, keyed like cpcParamShapes. */
export function cpcBackward(cache: CpcCache, dLoss = 1): Map<string, Float64Array> {
  const { cfg, zt, c, predW, predB, dims, mode } = cache;
  const { B, T, C, K } = dims;
  const nce = infoNceBackward(zt, c, predW, predB, dims, mode, dLoss);
  const g = gruBackward(cache.gru, nce.dc);
  // z feeds both the InfoNCE candidates and the GRU input: the gradients add.
  const dzt = nce.dz;
  for (let i = 0; i < dzt.length; i++) dzt[i] += g.dx[i];
  const enc = encoderBackward(cache.encoder, transpose12(dzt, B, T, C));
  const grads = new Map<string, Float64Array>();
  enc.weight.forEach((w, i) => {
    grads.set(`encoder.${i}.weight`, w);
    grads.set(`encoder.${i}.bias`, enc.bias[i]);
    if (cfg.norm) {
      grads.set(`encoder.${i}.norm.weight`, enc.normWeight![i]);
      grads.set(`encoder.${i}.norm.bias`, enc.normBias![i]);
    }
  });
  grads.set('gru.weight_ih_l0', g.dWeightIh);
  grads.set('gru.weight_hh_l0', g.dWeightHh);
  grads.set('gru.bias_ih_l0', g.dBiasIh);
  grads.set('gru.bias_hh_l0', g.dBiasHh);
  for (let k = 0; k < K; k++) {
    grads.set(`predictors.${k}.weight`, nce.dPredW[k]);
    if (nce.dPredB) grads.set(`predictors.${k}.bias`, nce.dPredB[k]);
  }
  return grads;
}

export function cpcLossAndGrads(
  signal: Float64Array,
  params: Map<string, Float64Array>,
  cfg: CpcConfig,
): { loss: number; lossPerK: Float64Array; accPerK: Float64Array; grads: Map<string, Float64Array> } {
  const fwd = cpcForward(signal, params, cfg);
  return { loss: fwd.loss, lossPerK: fwd.lossPerK, accPerK: fwd.accPerK, grads: cpcBackward(fwd.cache) };
}
