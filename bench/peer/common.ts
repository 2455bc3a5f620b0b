// What every JS-framework peer of the e2e benchmark shares (tfjsCpc.ts, jaxCpc.ts): the config and
// its validation, the parameter list, init and test signal (the runtime's own, so every side trains
// the same model from the same start), the navigator.gpu shim for Node, and the step timer's
// median (bench/timing.ts's). Nothing here imports a peer framework, so importing one peer never loads another.
import { paramShapes, resolveConfig, type CpcTrainConfig } from '../../src/cpc/config.ts';
import { Rng } from '../../src/cpc/data/rng.ts';
import { initParams } from '../../src/cpc/params.ts';

export interface PeerConfig {
  B: number;
  L: number;
  /** C */
  channels: number;
  kernels: readonly number[];
  strides: readonly number[];
  norm: boolean;
  H: number;
  K: number;
  lr: number;
}

export interface PeerOptions {
  /** A WebGPU `GPU` (navigator.gpu-like). Default: the process-wide Dawn instance of src/node/gpu.ts. */
  gpu?: GPU;
  /** Initial weights by PyTorch name (see peerParamShapes); default: a seeded PyTorch-style init. */
  params?: Map<string, Float64Array>;
  /** Seed of the default init. */
  seed?: number;
}

/** What every JS peer (tfjs, jax-js) offers: the same model, stepped and inspected by PyTorch names. */
export interface PeerModel {
  readonly cfg: PeerConfig;
  /** Frames after the encoder. */
  readonly T: number;
  /** The adapter the peer runs on, as "vendor / architecture / description". */
  readonly adapter: string;
  /** One training step (forward, backward, Adam update); resolves to the loss before the update. */
  step(signal: Float32Array): Promise<number>;
  /** The loss only (no update). */
  loss(signal: Float32Array): Promise<number>;
  /** Loss gradients by PyTorch name and layout (no update). */
  gradients(signal: Float32Array): Promise<Map<string, Float64Array>>;
  /** Current weights by PyTorch name and layout. */
  getWeights(): Promise<Map<string, Float64Array>>;
  setWeights(params: Map<string, Float64Array>): void;
  dispose(): void;
}

export interface PeerTiming {
  /** Median wall time of one step (upload, forward, backward, Adam, loss readback). */
  msPerStep: number;
  /** Every measured step's time, in order. */
  stepMs: number[];
  /** The loss of every step, warm-up included, in order. */
  losses: number[];
  T: number;
  adapter: string;
}

/**
 * The jax-js peer's package, pinned as in package.json (devDependencies; an optional peer dependency
 * for users). Here, not in jaxCpc.ts, so the e2e suite can name the install line when the package is absent.
 */
export const JAX_PACKAGE = '@jax-js/jax@0.1.25';

export const CHANNEL_NORM_EPS = 1e-5;
/** PyTorch's Adam defaults (tfjs would use the backend's epsilon, 1e-7, otherwise). */
export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Frame count after the conv stack (no padding: every layer floors). */
export function peerFrames(cfg: Pick<PeerConfig, 'L' | 'kernels' | 'strides'>): number {
  let len = cfg.L;
  for (let i = 0; i < cfg.kernels.length; i++) len = Math.floor((len - cfg.kernels[i]!) / cfg.strides[i]!) + 1;
  return len;
}

/** Checks `cfg` before any GPU work; errors name the peer (`who`) and the whole config. Returns T. */
export function validatePeerConfig(who: string, cfg: PeerConfig): number {
  const where = `${who}(B=${cfg.B}, L=${cfg.L}, C=${cfg.channels}, H=${cfg.H}, K=${cfg.K}, kernels=[${cfg.kernels}], strides=[${cfg.strides}])`;
  const posInt = (x: number) => Number.isInteger(x) && x > 0;
  if (![cfg.B, cfg.L, cfg.channels, cfg.H, cfg.K].every(posInt)) throw new RangeError(`${where}: B, L, C, H, K must be positive integers`);
  if (cfg.kernels.length === 0 || cfg.kernels.length !== cfg.strides.length) throw new RangeError(`${where}: kernels and strides must be non-empty and of equal length`);
  if (![...cfg.kernels, ...cfg.strides].every(posInt)) throw new RangeError(`${where}: kernels and strides must be positive integers`);
  if (cfg.norm && cfg.channels < 2) throw new RangeError(`${where}: ChannelNorm's unbiased variance needs C ≥ 2`);
  if (!(cfg.lr > 0)) throw new RangeError(`${where}: lr must be > 0`);
  let len = cfg.L;
  for (let i = 0; i < cfg.kernels.length; i++) {
    if (len < cfg.kernels[i]!) throw new RangeError(`${where}: layer ${i} input length ${len} < kernel ${cfg.kernels[i]}`);
    len = Math.floor((len - cfg.kernels[i]!) / cfg.strides[i]!) + 1;
  }
  if (len <= cfg.K) throw new RangeError(`${where}: T=${len} frames, InfoNCE needs T > K`);
  return len;
}

const modelConfig = (cfg: PeerConfig) => ({
  channels: cfg.channels, hidden: cfg.H, predictionSteps: cfg.K, kernels: [...cfg.kernels], strides: [...cfg.strides],
  norm: cfg.norm, predictorBias: false,
});

/** Every parameter's PyTorch name and shape: the runtime's own list (src/cpc/config.ts), so both sides train the same model. */
export function peerParamShapes(cfg: PeerConfig): Map<string, number[]> {
  return paramShapes(modelConfig(cfg));
}

/** PyTorch's default init, seeded: the runtime's own initParams, so the peer starts from what we start from. */
export function peerInitParams(cfg: PeerConfig, seed = 1): Map<string, Float64Array> {
  return new Map([...initParams(modelConfig(cfg), seed)].map(([name, a]) => [name, Float64Array.from(a)]));
}

/** A reproducible [B·L] test waveform (uniform noise in ±1). */
export function peerSignal(cfg: Pick<PeerConfig, 'B' | 'L'>, seed = 7): Float32Array {
  const rng = new Rng(seed);
  const s = new Float32Array(cfg.B * cfg.L);
  for (let i = 0; i < s.length; i++) s[i] = rng.uniform(-1, 1);
  return s;
}

/**
 * Puts a navigator holding `gpu` (and `extra`, e.g. a userAgent) on globalThis; returns the undo.
 * Node ≥ 21 has its own navigator getter, restored by the undo; Node 20 has none.
 */
export function installNavigatorGpu(gpu: GPU, extra: Record<string, unknown> = {}): () => void {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu === gpu) return () => {};
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { ...extra, gpu }, configurable: true, writable: true, enumerable: false });
  return () => {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete g.navigator;
  };
}

export { median } from '../timing.ts';

export function checkTimingRun(who: string, run: { warmup: number; steps: number }): void {
  if (!Number.isInteger(run.warmup) || run.warmup < 0 || !Number.isInteger(run.steps) || run.steps < 1) {
    throw new RangeError(`${who}: need integer warmup ≥ 0 and steps ≥ 1 (got ${run.warmup}, ${run.steps})`);
  }
}

/**
 * The peer config of one of our training configs — the same model (ChannelNorm included), batch and
 * rate — or why the JS peers cannot train it: they implement the 'batch' negatives, f32 storage and
 * bias-free predictors only. The e2e rows time exactly this against our step of `cfg`.
 */
export function peerConfigOf(cfg: CpcTrainConfig): PeerConfig | string {
  if (cfg.negatives.kind !== 'batch') return `the JS peers implement 'batch' negatives only (config has '${cfg.negatives.kind}')`;
  if (cfg.predictorBias) return 'the JS peers implement bias-free predictors only';
  if (cfg.activations !== 'f32') return `the JS peers store activations in f32 only (config has '${cfg.activations}')`;
  return {
    B: cfg.batchSize, L: cfg.window, channels: cfg.channels, kernels: [...cfg.kernels], strides: [...cfg.strides],
    norm: cfg.norm, H: cfg.hidden, K: cfg.predictionSteps, lr: cfg.optimizer.lr,
  };
}

function presetPeer(name: 'tiny' | 'small'): PeerConfig {
  const p = peerConfigOf(resolveConfig(name));
  if (typeof p === 'string') throw new Error(`PEER_CONFIGS.${name}: ${p}`);
  return p;
}

/**
 * The tiny and small presets as peers (the paper config is too slow for them). Derived, not copied:
 * a copy once kept ChannelNorm off after the presets turned it on, so the peers ran a lighter model.
 */
export const PEER_CONFIGS: Record<'tiny' | 'small', PeerConfig> = { tiny: presetPeer('tiny'), small: presetPeer('small') };
