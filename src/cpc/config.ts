// The CPC training configuration: model shape, negatives, window, batch, optimizer and seed, with
// the three presets of the issue tracker. Validation happens here, before anything touches the GPU,
// and every message names the offending field.
import { CpcError } from '../runtime/errors.ts';
import { encoderFrames } from './data/frames.ts';

/** Parameter initialisation (src/cpc/params.ts initParams says what each means and why). */
export type InitScheme = 'pytorch' | 'kaiming';
export const INIT_SCHEMES: readonly InitScheme[] = ['pytorch', 'kaiming'];

/**
 * How training windows are drawn (src/cpc/data/batcher.ts WindowSampler):
 *   'samespeaker': all B windows of a batch from one speaker (CPC_audio's default samplingType), so
 *                  the in-batch negatives cannot be told apart by speaker alone;
 *   'uniform':     every window from an utterance drawn uniformly.
 */
export type SamplingMode = 'samespeaker' | 'uniform';
export const SAMPLING_MODES: readonly SamplingMode[] = ['samespeaker', 'uniform'];

export type NegativesConfig = { kind: 'batch' } | { kind: 'batch-time' } | { kind: 'sampled'; n: number };

export interface OptimizerConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** true: AdamW (decoupled decay); false: Adam with L2 added to the gradient. */
  decoupled: boolean;
  /** Global-norm clip threshold; null = no clipping. */
  maxGradNorm: number | null;
  warmupSteps: number;
  /** Steps of the cosine decay horizon (the trainer's default run length). */
  totalSteps: number;
  minLr: number;
}

export interface CpcTrainConfig {
  /** C: encoder channels = frame size. Multiple of 4 (vec4 channel loads in the InfoNCE kernels). */
  channels: number;
  /** H: GRU hidden size. Multiple of 4. */
  hidden: number;
  /** K: prediction steps. */
  predictionSteps: number;
  kernels: number[];
  strides: number[];
  norm: boolean;
  init: InitScheme;
  predictorBias: boolean;
  sampling: SamplingMode;
  negatives: NegativesConfig;
  /** L: samples per training window. */
  window: number;
  /** B: windows per batch. */
  batchSize: number;
  optimizer: OptimizerConfig;
  seed: number;
}

export type PresetName = 'tiny' | 'small' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'small', 'paper'];

const DEFAULT_OPTIMIZER: OptimizerConfig = {
  lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false,
  maxGradNorm: 5, warmupSteps: 0, totalSteps: 1000, minLr: 1e-5,
};

// The recipe (measured; README "What the recipe is made of" has the probe numbers): ChannelNorm and
// the 'kaiming' init give a live start — loss below ln B − 0.05 within 5 steps of tiny and small
// (tests/liveStart.test.ts) where norm off + PyTorch init sat at ln B for ~20 steps with a gradient
// norm ~1e-5. No warm-up: with the loss at ln B from step 1, the warm-up's small early rates only
// delayed the start (small: 2.064 vs 2.012 at step 5); clipping at 5 guards the first steps instead.
const BASE = {
  kernels: [10, 8, 4, 4, 4], strides: [5, 4, 2, 2, 2], norm: true, init: 'kaiming' as InitScheme, predictorBias: false,
  sampling: 'uniform' as SamplingMode,
  negatives: { kind: 'batch' } as NegativesConfig, seed: 1,
};

export const PRESETS: Record<PresetName, CpcTrainConfig> = {
  // tiny at 5e-3: its 32×32 predictors need the larger Adam steps to leave ln B within 5 steps (2e-3: 2.036 at step 5).
  tiny: { ...BASE, channels: 32, hidden: 32, predictionSteps: 4, window: 10240, batchSize: 8, optimizer: { ...DEFAULT_OPTIMIZER, lr: 5e-3 } },
  small: { ...BASE, channels: 64, hidden: 64, predictionSteps: 4, window: 20480, batchSize: 8, optimizer: { ...DEFAULT_OPTIMIZER } },
  paper: {
    ...BASE, channels: 512, hidden: 256, predictionSteps: 12, window: 20480, batchSize: 8,
    optimizer: { ...DEFAULT_OPTIMIZER, lr: 2e-4, warmupSteps: 0, maxGradNorm: null, minLr: 2e-4 },
  },
};

export class ConfigError extends CpcError {
  constructor(field: string, message: string) {
    super('config', `${field}: ${message}`);
  }
}

export type ConfigOverrides = Partial<Omit<CpcTrainConfig, 'optimizer'>> & { optimizer?: Partial<OptimizerConfig> };

function clone(cfg: CpcTrainConfig): CpcTrainConfig {
  return JSON.parse(JSON.stringify(cfg)) as CpcTrainConfig;
}

/** A preset with overrides applied, validated. Unknown keys are refused (a typo must not be silently ignored). */
export function resolveConfig(preset: PresetName | CpcTrainConfig = 'small', overrides: ConfigOverrides = {}): CpcTrainConfig {
  let base: CpcTrainConfig;
  if (typeof preset === 'string') {
    if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
      throw new ConfigError('preset', `unknown preset '${preset}' (choose ${PRESET_NAMES.join(', ')})`);
    }
    base = clone(PRESETS[preset]);
  } else {
    base = clone(preset);
  }
  const known = new Set(Object.keys(PRESETS.tiny));
  for (const key of Object.keys(overrides)) {
    if (!known.has(key)) throw new ConfigError(key, `unknown config field (known: ${[...known].join(', ')})`);
  }
  const optKnown = new Set(Object.keys(DEFAULT_OPTIMIZER));
  for (const key of Object.keys(overrides.optimizer ?? {})) {
    if (!optKnown.has(key)) throw new ConfigError(`optimizer.${key}`, `unknown optimizer field (known: ${[...optKnown].join(', ')})`);
  }
  const { optimizer, ...rest } = overrides;
  const cfg: CpcTrainConfig = { ...base, ...rest, optimizer: { ...base.optimizer, ...(optimizer ?? {}) } } as CpcTrainConfig;
  validateConfig(cfg);
  return cfg;
}

function posInt(field: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(field, `must be a positive integer, got ${JSON.stringify(v)}`);
}

function nonNegInt(field: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ConfigError(field, `must be an integer ≥ 0, got ${JSON.stringify(v)}`);
}

function finiteIn(field: string, v: unknown, lo: number, hi: number, loOpen = false, hiOpen = false): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw new ConfigError(field, `must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${JSON.stringify(v)}`);
}

/** Frames per window (T) of a config: the encoder's output length. */
export function framesPerWindow(cfg: Pick<CpcTrainConfig, 'window' | 'kernels' | 'strides'>): number {
  return encoderFrames(cfg.window, cfg.kernels, cfg.strides);
}

/** Shape-level validation (device limits are checked by the trainer before allocating). */
export function validateConfig(cfg: CpcTrainConfig): void {
  posInt('channels', cfg.channels);
  posInt('hidden', cfg.hidden);
  if (cfg.channels % 4 !== 0) throw new ConfigError('channels', `must be a multiple of 4 (vec4 loads in the predictor/InfoNCE kernels), got ${cfg.channels}`);
  if (cfg.hidden % 4 !== 0) throw new ConfigError('hidden', `must be a multiple of 4 (vec4 loads in the predictor kernels), got ${cfg.hidden}`);
  posInt('predictionSteps', cfg.predictionSteps);
  posInt('window', cfg.window);
  posInt('batchSize', cfg.batchSize);
  if (!Array.isArray(cfg.kernels) || cfg.kernels.length === 0) throw new ConfigError('kernels', 'must be a non-empty array of positive integers');
  if (!Array.isArray(cfg.strides) || cfg.strides.length !== cfg.kernels.length) {
    throw new ConfigError('strides', `must have one entry per kernel (${cfg.kernels.length}), got ${JSON.stringify(cfg.strides)}`);
  }
  cfg.kernels.forEach((k, i) => posInt(`kernels[${i}]`, k));
  cfg.strides.forEach((s, i) => posInt(`strides[${i}]`, s));
  if (typeof cfg.norm !== 'boolean') throw new ConfigError('norm', `must be true or false, got ${JSON.stringify(cfg.norm)}`);
  if (!(INIT_SCHEMES as readonly unknown[]).includes(cfg.init)) throw new ConfigError('init', `must be one of ${INIT_SCHEMES.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(cfg.init)}`);
  if (!(SAMPLING_MODES as readonly unknown[]).includes(cfg.sampling)) throw new ConfigError('sampling', `must be one of ${SAMPLING_MODES.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(cfg.sampling)}`);
  if (typeof cfg.predictorBias !== 'boolean') throw new ConfigError('predictorBias', `must be true or false, got ${JSON.stringify(cfg.predictorBias)}`);
  nonNegInt('seed', cfg.seed);
  if (cfg.seed > 0xffffffff) throw new ConfigError('seed', `must fit in 32 bits, got ${cfg.seed}`);
  const T = framesPerWindow(cfg);
  if (T < cfg.predictionSteps + 1) {
    throw new ConfigError('window', `${cfg.window} samples give ${T} frames; need at least predictionSteps + 1 = ${cfg.predictionSteps + 1} so every step k has a positive`);
  }
  const neg = cfg.negatives as { kind?: unknown; n?: unknown } | undefined;
  if (!neg || !['batch', 'batch-time', 'sampled'].includes(neg.kind as string)) {
    throw new ConfigError('negatives.kind', `must be 'batch', 'batch-time' or 'sampled', got ${JSON.stringify(neg?.kind)}`);
  }
  if (neg.kind === 'sampled') {
    posInt('negatives.n', neg.n);
  } else if ('n' in neg && neg.n !== undefined) {
    throw new ConfigError('negatives.n', `only the 'sampled' mode takes a count (mode is '${String(neg.kind)}')`);
  }
  if (neg.kind === 'batch' && cfg.batchSize < 2) throw new ConfigError('batchSize', "the 'batch' negatives mode needs batchSize ≥ 2 (else there is no negative)");
  const o = cfg.optimizer;
  if (!o || typeof o !== 'object') throw new ConfigError('optimizer', 'must be an object');
  finiteIn('optimizer.lr', o.lr, 0, 10);
  finiteIn('optimizer.beta1', o.beta1, 0, 1, false, true);
  finiteIn('optimizer.beta2', o.beta2, 0, 1, false, true);
  finiteIn('optimizer.eps', o.eps, 0, 1, true);
  finiteIn('optimizer.weightDecay', o.weightDecay, 0, 1);
  if (typeof o.decoupled !== 'boolean') throw new ConfigError('optimizer.decoupled', `must be true or false, got ${JSON.stringify(o.decoupled)}`);
  if (o.maxGradNorm !== null) finiteIn('optimizer.maxGradNorm', o.maxGradNorm, 0, Number.MAX_VALUE, true);
  nonNegInt('optimizer.warmupSteps', o.warmupSteps);
  nonNegInt('optimizer.totalSteps', o.totalSteps);
  finiteIn('optimizer.minLr', o.minLr, 0, 10);
}

/** PyTorch parameter names and shapes in checkpoint order (DESIGN.md §1). */
/** The config fields that fix every parameter's shape. */
export type ModelShape = Pick<CpcTrainConfig, 'channels' | 'hidden' | 'predictionSteps' | 'kernels' | 'strides' | 'norm' | 'predictorBias'>;

export function paramShapes(cfg: ModelShape): Map<string, number[]> {
  const { channels: C, hidden: H } = cfg;
  const shapes = new Map<string, number[]>();
  cfg.kernels.forEach((k, i) => {
    shapes.set(`encoder.${i}.weight`, [C, i === 0 ? 1 : C, k]);
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

/** A JSON text's top-level object ({"preset": …, overrides…}), not yet validated as a config. */
export function parseConfigObject(text: string, source: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(source, `not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, 'must be a JSON object');
  return raw as Record<string, unknown>;
}

/** A validated config from {"preset": …, overrides…} (preset default small). */
export function configFromObject(raw: Record<string, unknown>): CpcTrainConfig {
  const { preset, ...overrides } = raw as { preset?: PresetName } & ConfigOverrides;
  return resolveConfig(preset ?? 'small', overrides);
}

/** Config parsed from JSON text (a `--config` file or checkpoint metadata), validated. */
export function parseConfigJson(text: string, source: string): CpcTrainConfig {
  return configFromObject(parseConfigObject(text, source));
}
