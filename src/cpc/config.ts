// The CPC training configuration: model shape, negatives, window, batch, optimizer and seed, with
// the three presets of the issue tracker. Validation happens here, before anything touches the GPU,
// and every message names the offending field.
import { CpcError } from '../runtime/errors.ts';
import { MAX_BATCH_SAMPLES } from './data/batcher.ts';
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

/**
 * Element type of the encoder's stored activations (src/shaders/conv1d.ts ActivationStorage): 'f16'
 * keeps the conv outputs act.0 … act.{n−2}, ChannelNorm's saved xhat and the backward's padded du
 * in f16 (needs the 'shader-f16' feature); every kernel accumulates in f32, and z, the GRU,
 * InfoNCE, parameters, gradients and Adam state stay f32. README "f16 activations" has the numbers.
 */
export type ActivationsDType = 'f32' | 'f16';
export const ACTIVATION_DTYPES: readonly ActivationsDType[] = ['f32', 'f16'];

/**
 * InfoNCE candidates (src/shaders/infonce.ts). 'sampled' draws n frames of the batch uniformly per
 * row; with `shared: true` one set per window position (b, t), reused for all K prediction steps,
 * as CPC_audio does (absent = false, the per-row draw, so older checkpoints keep their meaning).
 */
export type NegativesConfig = { kind: 'batch' } | { kind: 'batch-time' } | { kind: 'sampled'; n: number; shared?: boolean };

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
  /** Stored activations' element type (default 'f32'). */
  activations: ActivationsDType;
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

export type PresetName = 'tiny' | 'small' | 'medium' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'small', 'medium', 'paper'];

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
  // f32 by default everywhere: f16 storage measured slower on lavapipe and SwiftShader has no
  // shader-f16 (README "f16 activations").
  activations: 'f32' as ActivationsDType,
  sampling: 'uniform' as SamplingMode,
  negatives: { kind: 'batch' } as NegativesConfig, seed: 1,
};

export const PRESETS: Record<PresetName, CpcTrainConfig> = {
  // tiny at 5e-3: its 32×32 predictors need the larger Adam steps to leave ln B within 5 steps (2e-3: 2.036 at step 5).
  tiny: { ...BASE, channels: 32, hidden: 32, predictionSteps: 4, window: 10240, batchSize: 8, optimizer: { ...DEFAULT_OPTIMIZER, lr: 5e-3 } },
  small: { ...BASE, channels: 64, hidden: 64, predictionSteps: 4, window: 20480, batchSize: 8, optimizer: { ...DEFAULT_OPTIMIZER } },
  // medium: the smallest recipe measured to beat MFCC on both probes of the synthetic set (README
  // "What npm run train printed"): small's phone probe stays below MFCC whatever its K, H or
  // sampling (53.8-65.6 vs 69.2); 128 channels, H 256 and CPC_audio's K = 12 reached 71.7 [70.4, 73.1]
  // in 1000 steps, at ≈ 4.5× small's step time here (0.79 vs ≈ 3.6 steps/s). 1500 steps is its LR horizon (the cosine's length).
  medium: { ...BASE, channels: 128, hidden: 256, predictionSteps: 12, window: 20480, batchSize: 8, optimizer: { ...DEFAULT_OPTIMIZER, totalSteps: 1500 } },
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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as a message shows it (JSON, except that undefined and non-finite numbers stay readable). */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v);
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** A preset with overrides applied, validated. Unknown keys are refused (a typo must not be silently ignored). */
export function resolveConfig(preset: PresetName | CpcTrainConfig = 'small', overrides: ConfigOverrides = {}): CpcTrainConfig {
  let base: CpcTrainConfig;
  if (typeof preset === 'string') {
    if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
      throw new ConfigError('preset', `unknown preset '${preset}' (choose ${PRESET_NAMES.join(', ')})`);
    }
    base = clone(PRESETS[preset]);
  } else if (isPlainObject(preset)) {
    // An object preset is a whole config; it is stored as is in the checkpoint, so it gets the same
    // checks as the result (what train accepts, eval and --resume must load).
    checkFields('preset.', preset, CONFIG_SCHEMA, 'config', true);
    base = clone(preset);
  } else {
    throw new ConfigError('preset', `must be a preset name (${PRESET_NAMES.join(', ')}) or a complete config object, got ${shown(preset)}`);
  }
  if (!isPlainObject(overrides)) throw new ConfigError('config', `overrides must be an object, got ${shown(overrides)}`);
  // Overrides are partial: names and the optimizer's shape here, values in validateConfig after merging.
  checkKnown('', overrides, CONFIG_SCHEMA, 'config');
  const { optimizer, ...rest } = overrides;
  if (optimizer !== undefined) {
    if (!isPlainObject(optimizer)) throw new ConfigError('optimizer', `must be an object of optimizer fields (${Object.keys(OPTIMIZER_SCHEMA).join(', ')}), got ${shown(optimizer)}`);
    checkKnown('optimizer.', optimizer, OPTIMIZER_SCHEMA, 'optimizer');
  }
  const cfg: CpcTrainConfig = { ...base, ...rest, optimizer: { ...base.optimizer, ...(optimizer ?? {}) } } as CpcTrainConfig;
  validateConfig(cfg);
  return cfg;
}

// ---- Field schema ----------------------------------------------------------------------------------
// Each config field has one check (type and range) in CONFIG_SCHEMA; validateConfig runs them all and
// then the checks that involve several fields. A new field goes into the interface and the schema
// (TypeScript insists on both), and is then refused when unknown, missing or out of range like the rest.

/** Checks one field's value; throws a ConfigError naming `field`. */
export type FieldCheck = (field: string, v: unknown) => void;

// Upper bounds of the size fields (window and batchSize are each bounded by the data sampler's batch
// of ≤ 2^28 samples, data/batcher.ts). They are far above what any device holds (the trainer checks
// the device's limits before allocating); they exist so that a typo like 1e300 is refused here by
// name, and every size derived from a config stays finite (the largest weight, C·C·kernel, is
// ≤ 2^60) for the device-limit check to refuse, instead of overflowing to Infinity in a kernel's check.
/** channels, hidden: 128× the paper's 512; a C×C matrix then has ≤ 2^32 elements. */
export const MAX_WIDTH = 2 ** 16;
/**
 * Encoder layers: 12× the paper's 5. The memory plan is quadratic in the op count (3 ops per layer;
 * 64 layers plan in ~25 ms, 256 in ~0.3 s, 10,000 in minutes), and each layer is a set of pipelines.
 * A layer that shrinks the signal (stride ≥ 2) halves it, so a window ≤ 2^28 allows < 28 of those anyway.
 */
export const MAX_ENCODER_LAYERS = 64;

export const intIn = (lo: number, hi: number, why = ''): FieldCheck => (field, v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new ConfigError(field, `must be an integer in [${lo}, ${hi}]${why ? ` (${why})` : ''}, got ${shown(v)}`);
  }
};

export const multipleOf = (n: number, why: string): FieldCheck => (field, v) => {
  if ((v as number) % n !== 0) throw new ConfigError(field, `must be a multiple of ${n} (${why}), got ${shown(v)}`);
};

export const numberIn = (lo: number, hi: number, loOpen = false, hiOpen = false): FieldCheck => (field, v) => {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw new ConfigError(field, `must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${shown(v)}`);
};

export const boolean: FieldCheck = (field, v) => {
  if (typeof v !== 'boolean') throw new ConfigError(field, `must be true or false, got ${shown(v)}`);
};

export const oneOf = (values: readonly string[]): FieldCheck => (field, v) => {
  if (!values.includes(v as string)) throw new ConfigError(field, `must be one of ${values.map((x) => `'${x}'`).join(', ')}, got ${shown(v)}`);
};

export const nullOr = (check: FieldCheck): FieldCheck => (field, v) => {
  if (v !== null) check(field, v);
};

export const allOf = (...checks: FieldCheck[]): FieldCheck => (field, v) => {
  for (const c of checks) c(field, v);
};

export const arrayOf = (item: FieldCheck, minLength: number, maxLength: number, why = ''): FieldCheck => (field, v) => {
  if (!Array.isArray(v) || v.length < minLength || v.length > maxLength) {
    const len = Array.isArray(v) ? ` of length ${v.length}` : '';
    throw new ConfigError(field, `must be an array of ${minLength} to ${maxLength} entries${why ? ` (${why})` : ''}, got ${Array.isArray(v) ? `an array${len}` : shown(v)}`);
  }
  v.forEach((x, i) => item(`${field}[${i}]`, x));
};

/** An object whose keys are exactly the schema's (all required). */
export const objectOf = (schema: Record<string, FieldCheck>, what: string): FieldCheck => (field, v) => {
  if (!isPlainObject(v)) throw new ConfigError(field, `must be an object of ${what} fields (${Object.keys(schema).join(', ')}), got ${shown(v)}`);
  checkFields(`${field}.`, v, schema, what, true);
};

/** Refuses keys the schema does not name. */
function checkKnown(prefix: string, obj: Record<string, unknown>, schema: Record<string, FieldCheck>, what: string): void {
  const known = Object.keys(schema);
  for (const key of Object.keys(obj)) {
    if (!Object.hasOwn(schema, key)) throw new ConfigError(`${prefix}${key}`, `unknown ${what} field (known: ${known.join(', ')})`);
  }
}

/** Unknown keys refused; with `complete`, missing ones too; then every present field's check. */
function checkFields(prefix: string, obj: Record<string, unknown>, schema: Record<string, FieldCheck>, what: string, complete: boolean): void {
  checkKnown(prefix, obj, schema, what);
  if (complete) {
    const missing = Object.keys(schema).filter((k) => !Object.hasOwn(obj, k));
    if (missing.length > 0) {
      const field = prefix === '' ? what : prefix.slice(0, -1);
      throw new ConfigError(field, `missing ${what} field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (an object here must be complete${prefix === 'preset.' ? '; for a partial config use a preset name plus overrides' : ''})`);
    }
  }
  for (const [key, check] of Object.entries(schema)) {
    if (Object.hasOwn(obj, key)) check(`${prefix}${key}`, obj[key]);
  }
}

const OPTIMIZER_SCHEMA: Record<keyof OptimizerConfig, FieldCheck> = {
  lr: numberIn(0, 10),
  beta1: numberIn(0, 1, false, true),
  beta2: numberIn(0, 1, false, true),
  eps: numberIn(0, 1, true),
  weightDecay: numberIn(0, 1),
  decoupled: boolean,
  maxGradNorm: nullOr(numberIn(0, Number.MAX_VALUE, true)),
  warmupSteps: intIn(0, Number.MAX_SAFE_INTEGER),
  totalSteps: intIn(0, Number.MAX_SAFE_INTEGER),
  minLr: numberIn(0, 10),
};

const NEGATIVE_KINDS = ['batch', 'batch-time', 'sampled'] as const;

const negatives: FieldCheck = (field, v) => {
  if (!isPlainObject(v)) throw new ConfigError(field, `must be an object {"kind": …, "n": …, "shared": … (sampled only)}, got ${shown(v)}`);
  const kind = v.kind;
  oneOf(NEGATIVE_KINDS)(`${field}.kind`, kind);
  if (kind === 'sampled') {
    checkFields(`${field}.`, v, { kind: () => undefined, n: intIn(1, MAX_BATCH_SAMPLES), shared: boolean }, "'sampled' negatives", false);
    if (!Object.hasOwn(v, 'n')) throw new ConfigError(field, "missing 'sampled' negatives field n");
  } else if (Object.hasOwn(v, 'shared')) {
    throw new ConfigError(`${field}.shared`, `only the 'sampled' mode draws negatives to share (mode is '${String(kind)}')`);
  } else if (Object.hasOwn(v, 'n')) {
    throw new ConfigError(`${field}.n`, `only the 'sampled' mode takes a count (mode is '${String(kind)}')`);
  } else {
    checkKnown(`${field}.`, v, { kind: () => undefined }, `'${String(kind)}' negatives`);
  }
};

const CONFIG_SCHEMA: Record<keyof CpcTrainConfig, FieldCheck> = {
  channels: allOf(intIn(4, MAX_WIDTH), multipleOf(4, 'vec4 loads in the predictor/InfoNCE kernels')),
  hidden: allOf(intIn(4, MAX_WIDTH), multipleOf(4, 'vec4 loads in the predictor kernels')),
  predictionSteps: intIn(1, MAX_BATCH_SAMPLES),
  kernels: arrayOf(intIn(1, MAX_BATCH_SAMPLES), 1, MAX_ENCODER_LAYERS, 'encoder layers'),
  strides: arrayOf(intIn(1, MAX_BATCH_SAMPLES), 1, MAX_ENCODER_LAYERS, 'encoder layers'),
  norm: boolean,
  activations: oneOf(ACTIVATION_DTYPES),
  init: oneOf(INIT_SCHEMES),
  sampling: oneOf(SAMPLING_MODES),
  predictorBias: boolean,
  negatives,
  window: intIn(1, MAX_BATCH_SAMPLES, 'samples'),
  batchSize: intIn(1, MAX_BATCH_SAMPLES),
  optimizer: objectOf(OPTIMIZER_SCHEMA, 'optimizer'),
  seed: intIn(0, 0xffffffff, 'a uint32'),
};

/** Frames per window (T) of a config: the encoder's output length. */
export function framesPerWindow(cfg: Pick<CpcTrainConfig, 'window' | 'kernels' | 'strides'>): number {
  return encoderFrames(cfg.window, cfg.kernels, cfg.strides);
}

/** A guessing predictor's CPC accuracy: one positive among the candidates of the negatives mode
 *  (DESIGN.md InfoNCE: B for batch, B·T for batch-time, n + 1 for sampled), T = frames per window. */
export function cpcChance(cfg: Pick<CpcTrainConfig, 'negatives' | 'batchSize'>, T: number): number {
  const neg = cfg.negatives;
  if (neg.kind === 'batch') return 1 / cfg.batchSize;
  if (neg.kind === 'batch-time') return 1 / (cfg.batchSize * T);
  return 1 / (neg.n + 1);
}

/** Shape-level validation (device limits are checked by the trainer before allocating). */
export function validateConfig(cfg: CpcTrainConfig): void {
  if (!isPlainObject(cfg)) throw new ConfigError('config', `must be an object, got ${shown(cfg)}`);
  checkFields('', cfg as unknown as Record<string, unknown>, CONFIG_SCHEMA, 'config', true);
  if (cfg.strides.length !== cfg.kernels.length) {
    throw new ConfigError('strides', `must have one entry per kernel (${cfg.kernels.length}), got ${shown(cfg.strides)}`);
  }
  const T = framesPerWindow(cfg);
  if (T < cfg.predictionSteps + 1) {
    throw new ConfigError('window', `${cfg.window} samples give ${T} frames; need at least predictionSteps + 1 = ${cfg.predictionSteps + 1} so every step k has a positive`);
  }
  if (cfg.negatives.kind === 'batch' && cfg.batchSize < 2) throw new ConfigError('batchSize', "the 'batch' negatives mode needs batchSize ≥ 2 (else there is no negative)");
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
