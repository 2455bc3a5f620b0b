// Linear-probe evaluation of a CPC encoder (the CPC paper's protocol): the model is frozen, its
// context features c_t are extracted over fixed evaluation windows of both splits, and two softmax
// linear classifiers are trained on the train split and scored on the test split:
//   - phone per frame: one row per encoder frame, c_t → the phone at the centre of its receptive field
//     (only when the dataset carries phone labels);
//   - speaker per window: one row per window, c mean-pooled over time → the utterance's speaker.
// Browser-safe (no Node imports): the demo can call it with the same trainer it trains.
//
// The test split is used whole by default (every window at stride L/2, several per utterance; the
// speaker probe is thus on an utterance split, as in the CPC paper: the dataset's splits are
// utterance-disjoint and stratified by speaker). The train split is capped (`maxWindows`, evenly
// spread so every speaker keeps its share), and the phone probe trains on at most `maxPhoneFrames`
// frames. Every accuracy comes with a 95 % interval over the test rows that accounts for the rows of
// one utterance being correlated (intervals.ts), and the probe's own train accuracy, λ and
// convergence are in the report. `mfccEncoder` gives the MFCC baseline through the same path.
import type { CpcTrainConfig } from './config.ts';
import type { FeatureLayer } from './encodeFeatures.ts';
import type { Dataset, Split } from './data/dataset.ts';
import { evalWindows, type WindowBatch } from './data/batcher.ts';
import { encoderGeometry, frameLabels } from './data/frames.ts';
import { meanPool, runProbe, type ProbeOptions, type ProbeResult } from './probe.ts';
import { mfcc, mfccFrames, MFCC_DIM, MFCC_FRAME, MFCC_HOP } from './mfcc.ts';
import { clearlyAbove, type Interval } from './intervals.ts';
import { ShapeError } from '../runtime/errors.ts';

/** What evaluation needs from a model: a CpcTrainer satisfies it (kept structural so tests can stub it). */
export interface ProbeEncoder {
  readonly config: CpcTrainConfig;
  /** T frames per window. */
  readonly frames: number;
  /** c is [B, T, dim] channels-last for a [B·L] batch (B, L of the config). */
  encode(signal: Float32Array): Promise<{ c: Float32Array }>;
  /** Feature width per frame; default config.hidden (the context c). */
  readonly dim?: number;
  /** Which samples frame t sees (for its phone label); default the config's encoder geometry. */
  readonly geometry?: { hop: number; receptiveField: number };
  /** What the features are, for reports ('c', 'z', 'mfcc'); default 'c' (the model's context). */
  readonly featureName?: string;
}

/**
 * The MFCC baseline (mfcc.ts: 13 + Δ + ΔΔ, 25 ms / 10 ms) as a ProbeEncoder over the same windows:
 * frame t of a window covers its samples [160t, 160t + 400), labelled at its centre.
 */
export function mfccEncoder(config: CpcTrainConfig): ProbeEncoder {
  const L = config.window;
  const T = mfccFrames(L);
  if (T === 0) throw new ShapeError('mfccEncoder', `window of ${L} samples is shorter than one MFCC frame (${MFCC_FRAME})`, { L });
  return {
    config, frames: T, dim: MFCC_DIM, featureName: 'mfcc', geometry: { hop: MFCC_HOP, receptiveField: MFCC_FRAME },
    async encode(signal: Float32Array) {
      const B = signal.length / L;
      const c = new Float32Array(B * T * MFCC_DIM);
      for (let b = 0; b < B; b++) c.set(mfcc(signal.subarray(b * L, (b + 1) * L)).features, b * T * MFCC_DIM);
      return { c };
    },
  };
}

/**
 * A model's features of one layer as a ProbeEncoder: 'c' (the context, CPC's usual probe) is the
 * model itself; 'z' (the encoder output, CPC_audio's `--get_encoded`) has C channels per frame on the
 * same frames and labels. The same layer choice as `encode --layer`.
 */
export function layerEncoder(model: Omit<ProbeEncoder, 'encode'> & { encode(signal: Float32Array): Promise<{ z: Float32Array; c: Float32Array }> }, layer: FeatureLayer): ProbeEncoder {
  if (layer === 'c') return model;
  return {
    config: model.config, frames: model.frames, dim: model.config.channels, featureName: 'z',
    ...(model.geometry ? { geometry: model.geometry } : {}),
    async encode(signal: Float32Array) { return { c: (await model.encode(signal)).z }; },
  };
}

export interface EvalOptions {
  /** Most windows per split fed to the encoder; default 2000 train, all of test. */
  maxWindows?: Partial<Record<Split, number>>;
  /** Most frames per split for the phone probe; default 30000 train, all of test. */
  maxPhoneFrames?: Partial<Record<Split, number>>;
  /** Distance between evaluation window starts within an utterance; default L / 2. */
  stride?: number;
  /** Options of the phone probe (default: runProbe's). */
  probe?: ProbeOptions;
  /** Options of the speaker probe; default SPEAKER_PROBE_DEFAULTS. */
  speakerProbe?: ProbeOptions;
  /** Progress messages ("features train: 120/600 windows"). */
  onProgress?: (message: string) => void;
}

const DEFAULT_MAX_WINDOWS: Record<Split, number> = { train: 2000, test: Number.POSITIVE_INFINITY };
const DEFAULT_MAX_FRAMES: Record<Split, number> = { train: 30000, test: Number.POSITIVE_INFINITY };

/** Frozen features of one split. */
export interface SplitFeatures {
  /** [N, T, H] row-major. */
  c: Float32Array;
  N: number;
  T: number;
  H: number;
  /** Speaker per window [N]. */
  speakers: Uint32Array;
  /** Utterance (index in the split) per window [N]: the group of the validation split and the bootstrap. */
  utterances: Uint32Array;
  /** Phone per frame [N·T], or null when the dataset has no phone labels. */
  phones: Uint32Array | null;
  /** Windows the split offers before the cap. */
  available: number;
  ms: number;
}

/** Number of evaluation windows of a split (same eligibility rule as evalWindows: utterances ≥ L samples). */
export function countEvalWindows(dataset: Dataset, split: Split, L: number, stride: number): number {
  let n = 0;
  for (const u of dataset.utterances(split)) {
    if (u.samples.length >= L) n += Math.floor((u.samples.length - L) / stride) + 1;
  }
  return n;
}

/**
 * Indices 0..total-1 to keep so that exactly min(cap, total) of them survive, evenly spread:
 * index i is kept when ⌊(i+1)·M/total⌋ > ⌊i·M/total⌋.
 */
function evenKeep(total: number, cap: number): (i: number) => boolean {
  const M = Math.min(cap, total);
  if (M >= total) return () => true;
  return (i) => Math.floor(((i + 1) * M) / total) > Math.floor((i * M) / total);
}

/** Runs the frozen encoder over (a capped, evenly spread subset of) a split's evaluation windows. */
export async function extractFeatures(model: ProbeEncoder, dataset: Dataset, split: Split, opts: EvalOptions = {}): Promise<SplitFeatures> {
  const t0 = performance.now();
  const cfg = model.config;
  const B = cfg.batchSize;
  const L = cfg.window;
  const T = model.frames;
  const H = model.dim ?? cfg.hidden;
  const stride = opts.stride ?? Math.max(1, Math.floor(L / 2));
  const cap = opts.maxWindows?.[split] ?? DEFAULT_MAX_WINDOWS[split];
  if (!(cap === Number.POSITIVE_INFINITY || (Number.isInteger(cap) && cap >= 1))) throw new ShapeError('extractFeatures', `maxWindows.${split} must be a positive integer`, { cap });
  const available = countEvalWindows(dataset, split, L, stride);
  const N = Math.min(cap, available);
  const keep = evenKeep(available, N);
  const utts = dataset.utterances(split);
  const withPhones = dataset.numPhones !== undefined && utts.every((u) => u.phones !== undefined);
  const geom = model.geometry ?? encoderGeometry(cfg.kernels, cfg.strides);

  const c = new Float32Array(N * T * H);
  const speakers = new Uint32Array(N);
  const utterances = new Uint32Array(N);
  const phones = withPhones ? new Uint32Array(N * T) : null;
  const signal = new Float32Array(B * L);
  let inBatch = 0;
  let done = 0;
  const runBatch = async () => {
    // The encoder always takes B windows: pad a short last batch by repeating its last window.
    for (let b = inBatch; b < B; b++) signal.copyWithin(b * L, (inBatch - 1) * L, inBatch * L);
    const out = await model.encode(signal);
    if (out.c.length !== B * T * H) {
      throw new ShapeError('extractFeatures', `encode returned ${out.c.length} context values, expected B·T·H`, { B, T, H });
    }
    c.set(out.c.subarray(0, inBatch * T * H), done * T * H);
    done += inBatch;
    inBatch = 0;
    if (opts.onProgress && (done === N || done % (B * 16) === 0)) opts.onProgress(`features ${split}: ${done}/${N} windows`);
  };
  // B = 1 batches from evalWindows are just (utterance, start) pairs with their samples; we regroup
  // the kept ones into encoder batches ourselves so the cap can skip windows anywhere in the split.
  let index = 0;
  for (const w of evalWindows(dataset, split, { B: 1, L, stride }) as Generator<WindowBatch>) {
    if (!keep(index++)) continue;
    const n = done + inBatch;
    signal.set(w.signal, inBatch * L);
    speakers[n] = w.speakers[0]!;
    utterances[n] = w.utterances[0]!;
    if (phones) phones.set(frameLabels(utts[w.utterances[0]!]!, w.starts[0]!, T, geom), n * T);
    inBatch++;
    if (inBatch === B) await runBatch();
  }
  if (inBatch > 0) await runBatch();
  if (done !== N) throw new ShapeError('extractFeatures', `collected ${done} windows, expected ${N}`, { N, available });
  return { c, N, T, H, speakers, utterances, phones, available, ms: performance.now() - t0 };
}

/** Rows [M, H] + labels [M] (+ utterance per row) for the phone probe: at most `cap` frames, evenly spaced over all frames. */
export function phoneRows(f: SplitFeatures, cap: number): { features: Float32Array; labels: Uint32Array; groups: Uint32Array } {
  if (!f.phones) throw new ShapeError('phoneRows', 'the split has no phone labels');
  const total = f.N * f.T;
  const keep = evenKeep(total, cap);
  const M = Math.min(cap, total);
  const features = new Float32Array(M * f.H);
  const labels = new Uint32Array(M);
  const groups = new Uint32Array(M);
  let m = 0;
  for (let i = 0; i < total; i++) {
    if (!keep(i)) continue;
    features.set(f.c.subarray(i * f.H, (i + 1) * f.H), m * f.H);
    groups[m] = f.utterances[Math.floor(i / f.T)]!;
    labels[m++] = f.phones[i]!;
  }
  return { features, labels, groups };
}

export interface ProbeSummary {
  test_acc: number;
  /** 95 % interval of test_acc (Wilson over rows ∪ bootstrap over test utterances). */
  test_ci: [number, number];
  ci_method: string;
  /** Accuracy of the probe on its own training rows (an underfitting probe shows here). */
  train_acc: number;
  /** Accuracy of always answering the most frequent train class, on the test rows. */
  majority: number;
  classes: number;
  train_rows: number;
  test_rows: number;
  /** L2 strength chosen on the validation part of the train split, and the candidates tried. */
  l2: number;
  l2_trials: { l2: number; val_acc: number }[];
  /** The solver reached its gradient tolerance. */
  converged: boolean;
  ms: number;
}

export interface EvalReport {
  /** What was probed: 'c' (context features of the model), 'z' (its encoder output) or 'mfcc' (the baseline); set by the caller's encoder. */
  features: string;
  /** Phone-per-frame test accuracy; null when the dataset has no phone labels. */
  phone_acc: number | null;
  /** Speaker-per-window test accuracy; null when there are fewer than 2 speakers. */
  speaker_acc: number | null;
  phone: ProbeSummary | null;
  speaker: ProbeSummary | null;
  windows: Record<Split, number>;
  feature_ms: number;
}

function summarize(r: ProbeResult, classes: number): ProbeSummary {
  return {
    test_acc: r.testAccuracy, test_ci: [r.testInterval.lo, r.testInterval.hi], ci_method: r.testInterval.method,
    train_acc: r.trainAccuracy, majority: r.majority, classes,
    train_rows: r.trainRows, test_rows: r.testRows,
    l2: r.l2, l2_trials: r.l2Trials.map((t) => ({ l2: t.l2, val_acc: t.valAccuracy })), converged: r.converged,
    ms: Math.round(r.ms),
  };
}

/** Phone and speaker probes on the frozen features of `model` (see the header comment). */
export async function evaluateProbes(model: ProbeEncoder, dataset: Dataset, opts: EvalOptions = {}): Promise<EvalReport> {
  const train = await extractFeatures(model, dataset, 'train', opts);
  const test = await extractFeatures(model, dataset, 'test', opts);
  const probeOpts = opts.probe ?? {};
  const speakerOpts = opts.speakerProbe ?? probeOpts;

  let phone: ProbeSummary | null = null;
  if (train.phones && test.phones && dataset.numPhones !== undefined && dataset.numPhones >= 2) {
    const capTrain = opts.maxPhoneFrames?.train ?? DEFAULT_MAX_FRAMES.train;
    const capTest = opts.maxPhoneFrames?.test ?? DEFAULT_MAX_FRAMES.test;
    const r = runProbe(phoneRows(train, capTrain), phoneRows(test, capTest), dataset.numPhones, probeOpts);
    phone = summarize(r, dataset.numPhones);
    opts.onProgress?.(`phone probe: ${(r.testAccuracy * 100).toFixed(1)} % (${r.trainRows} train frames, ${Math.round(r.ms)} ms)`);
  }

  let speaker: ProbeSummary | null = null;
  if (dataset.numSpeakers >= 2) {
    const r = runProbe(
      { features: meanPool(train.c, train.N, train.T, train.H), labels: train.speakers, groups: train.utterances },
      { features: meanPool(test.c, test.N, test.T, test.H), labels: test.speakers, groups: test.utterances },
      dataset.numSpeakers, speakerOpts,
    );
    speaker = summarize(r, dataset.numSpeakers);
    opts.onProgress?.(`speaker probe: ${(r.testAccuracy * 100).toFixed(1)} % (${r.trainRows} train windows, ${Math.round(r.ms)} ms)`);
  }

  return {
    features: model.featureName ?? 'c',
    phone_acc: phone?.test_acc ?? null,
    speaker_acc: speaker?.test_acc ?? null,
    phone,
    speaker,
    windows: { train: train.N, test: test.N },
    feature_ms: Math.round(train.ms + test.ms),
  };
}

/** 'above' / 'below' when the 95 % intervals do not overlap; 'overlap' (no winner) otherwise. */
export function compareProbe(a: ProbeSummary | null, b: ProbeSummary | null): 'above' | 'below' | 'overlap' | null {
  if (!a || !b) return null;
  const ia: Interval = { lo: a.test_ci[0], hi: a.test_ci[1] };
  const ib: Interval = { lo: b.test_ci[0], hi: b.test_ci[1] };
  return clearlyAbove(ia, ib) ? 'above' : clearlyAbove(ib, ia) ? 'below' : 'overlap';
}
