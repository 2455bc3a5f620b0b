// Batches of fixed-length windows for training (random, seeded, resumable) and for evaluation
// (every window of every utterance, in order).
//
// Layout: `signal` is [B, L] row-major float32 — window b occupies signal[b·L, (b+1)·L) — which is the
// encoder's input layout [B, C_in = 1, L] with no copy.
import { NonFiniteError, ShapeError } from '../../runtime/errors.ts';
import { firstNonFinite, type Dataset, type Split, type Utterance } from './dataset.ts';
import { Rng } from './rng.ts';
import type { SamplingMode } from '../config.ts';

export interface WindowBatch {
  /** [B, L] row-major. */
  signal: Float32Array;
  /** Speaker id per window [B]. */
  speakers: Uint32Array;
  /** Index of each window's utterance in `dataset.utterances(split)` [B]. */
  utterances: Uint32Array;
  utteranceIds: string[];
  /** First sample of each window in its utterance [B]. */
  starts: Uint32Array;
  /** Windows that are real: B for training batches; the last eval batch may be padded (count < B). */
  count: number;
}

export interface WindowSamplerOptions {
  B: number;
  L: number;
  seed: number;
  /** Default 'uniform' (see SamplingMode in src/cpc/config.ts). */
  sampling?: SamplingMode;
}

/** Everything needed to resume a sampler so that it draws the same batches as an uninterrupted run. */
export interface WindowSamplerState {
  rng: number;
  batches: number;
}

/** Samples per batch (B·L): [B, L] float32 must stay a normal typed array (and a realistic GPU upload). */
export const MAX_BATCH_SAMPLES = 2 ** 28;

/** A fresh batch of B windows of L samples. */
export function newWindowBatch(B: number, L: number): WindowBatch {
  return {
    signal: new Float32Array(B * L), speakers: new Uint32Array(B), utterances: new Uint32Array(B),
    utteranceIds: new Array<string>(B), starts: new Uint32Array(B), count: B,
  };
}

export function checkBatchShape(op: string, batch: WindowBatch, B: number, L: number): void {
  if (batch.signal.length !== B * L || batch.speakers.length !== B || batch.starts.length !== B || batch.utterances.length !== B) {
    throw new ShapeError(op, `output batch does not match [B, L]`, { B, L, signal: batch.signal.length });
  }
}

/**
 * The utterances windows are drawn from, whatever holds them: float32 utterances in memory (the
 * synthetic set, dropped files in the demo) or an int16 pack of a large corpus (src/cpc/data/packSampler.ts).
 * drawWindows is the ONE place that decides which windows a batch gets; other sampling modes
 * (e.g. batches from one speaker) belong there, so they work for every pool.
 */
export interface WindowPool {
  length(i: number): number;
  speaker(i: number): number;
  id(i: number): string;
  /** Writes samples [start, start + n) of utterance i to dst[at, at + n) as float32. */
  copy(i: number, start: number, n: number, dst: Float32Array, at: number): void;
}

export function utterancePool(list: readonly Utterance[]): WindowPool {
  return {
    length: (i) => list[i]!.samples.length,
    speaker: (i) => list[i]!.speaker,
    id: (i) => list[i]!.id,
    copy: (i, start, n, dst, at) => dst.set(list[i]!.samples.subarray(start, start + n), at),
  };
}

/**
 * samespeaker sampling's grouping of `eligible` (indices into `pool`) by speaker id; null for uniform.
 * Built once per pool (per pack for a corpus), so drawing stays O(B).
 */
export type SpeakerGroups = Map<number, Uint32Array> | null;

export function speakerGroups(op: string, sampling: SamplingMode | undefined, pool: WindowPool, eligible: Uint32Array): SpeakerGroups {
  const mode = sampling ?? 'uniform';
  if (mode !== 'uniform' && mode !== 'samespeaker') throw new ShapeError(op, `unknown sampling mode '${String(mode)}'`);
  if (mode === 'uniform') return null;
  const groups = new Map<number, number[]>();
  for (const ui of eligible) {
    const s = pool.speaker(ui);
    let g = groups.get(s);
    if (!g) groups.set(s, (g = []));
    g.push(ui);
  }
  return new Map([...groups].map(([s, g]) => [s, Uint32Array.from(g)]));
}

/**
 * Fills `batch` (B = batch.speakers.length windows of L samples): each window picks an utterance
 * among `eligible` (indices into the pool, all ≥ L samples long) — uniformly, or with `groups`
 * (samespeaker) the first uniformly and the other B − 1 uniformly among its speaker's — then a start
 * uniformly in [0, len − L]. Two rng draws per window, in that order (resumed streams depend on it).
 */
export function drawWindows(rng: Rng, pool: WindowPool, eligible: Uint32Array, L: number, batch: WindowBatch, groups: SpeakerGroups = null): void {
  const B = batch.speakers.length;
  let group: Uint32Array | null = null;
  for (let b = 0; b < B; b++) {
    const ui: number = group ? group[rng.int(group.length)]! : eligible[rng.int(eligible.length)]!;
    if (b === 0 && groups) group = groups.get(pool.speaker(ui))!;
    const start = rng.int(pool.length(ui) - L + 1);
    pool.copy(ui, start, L, batch.signal, b * L);
    batch.speakers[b] = pool.speaker(ui);
    batch.utterances[b] = ui;
    batch.utteranceIds[b] = pool.id(ui);
    batch.starts[b] = start;
  }
  batch.count = B;
}

export function checkBL(op: string, B: number, L: number): void {
  if (!Number.isInteger(B) || B < 1) throw new ShapeError(op, `B must be a positive integer`, { B, L });
  if (!Number.isInteger(L) || L < 1) throw new ShapeError(op, `L must be a positive integer`, { B, L });
  if (B * L > MAX_BATCH_SAMPLES) throw new ShapeError(op, `B·L = ${B * L} samples per batch exceeds 2^28`, { B, L });
}

/** Utterances of a split long enough for a window of L samples, after checking they are finite. */
function eligibleUtterances(op: string, dataset: Dataset, split: Split, L: number): { list: readonly Utterance[]; eligible: Uint32Array } {
  const list = dataset.utterances(split);
  const idx: number[] = [];
  let longest = 0;
  for (let i = 0; i < list.length; i++) {
    const u = list[i]!;
    longest = Math.max(longest, u.samples.length);
    if (u.samples.length < L) continue;
    const bad = firstNonFinite(u.samples);
    if (bad >= 0) {
      throw new NonFiniteError(op, `utterance '${u.id}' (${split} split of ${dataset.name}) has a non-finite sample ${u.samples[bad]} at index ${bad}`);
    }
    idx.push(i);
  }
  if (idx.length === 0) {
    throw new ShapeError(op, `no ${split} utterance of ${dataset.name} is at least L = ${L} samples long (${list.length} utterances, the longest has ${longest} samples; L is the config's window)`, { L, longest, utterances: list.length });
  }
  return { list, eligible: Uint32Array.from(idx) };
}

/**
 * Random windows. 'uniform': each window picks an utterance uniformly among those with ≥ L samples.
 * 'samespeaker' (CPC_audio's default): the batch's first window picks its utterance that way, and the
 * other B − 1 pick uniformly among the eligible utterances of ITS speaker — so a speaker is chosen in
 * proportion to its eligible utterances, as CPC_audio's per-speaker batches are. Then each window takes
 * a start uniformly in [0, len − L]. Utterances shorter than L are skipped. Deterministic from `seed`;
 * `getState()` / `setState()` resume the exact stream (the mode is fixed by the config).
 */
export class WindowSampler {
  readonly B: number;
  readonly L: number;
  readonly split: Split;
  private readonly eligible: Uint32Array;
  private readonly pool: WindowPool;
  private readonly rng: Rng;
  private readonly groups: SpeakerGroups;
  private batches = 0;

  constructor(readonly dataset: Dataset, split: Split, opts: WindowSamplerOptions) {
    const op = 'WindowSampler';
    checkBL(op, opts.B, opts.L);
    this.B = opts.B;
    this.L = opts.L;
    this.split = split;
    const { list, eligible } = eligibleUtterances(op, dataset, split, opts.L);
    this.eligible = eligible;
    this.pool = utterancePool(list);
    this.rng = new Rng(opts.seed);
    this.groups = speakerGroups(op, opts.sampling, this.pool, eligible);
  }

  /** Number of utterances windows are drawn from. */
  get eligibleCount(): number {
    return this.eligible.length;
  }

  /** Next batch; writes into `out.signal` etc. when given (reuse for double-buffered uploads). */
  next(out?: WindowBatch): WindowBatch {
    const { B, L } = this;
    const batch = out ?? newWindowBatch(B, L);
    checkBatchShape('WindowSampler.next', batch, B, L);
    drawWindows(this.rng, this.pool, this.eligible, L, batch, this.groups);
    this.batches++;
    return batch;
  }

  getState(): WindowSamplerState {
    return { rng: this.rng.getState(), batches: this.batches };
  }

  setState(state: WindowSamplerState): void {
    const rngOk = Number.isInteger(state?.rng) && state.rng >= 0 && state.rng <= 0xffffffff;
    if (!state || !rngOk || !Number.isInteger(state.batches) || state.batches < 0) {
      throw new ShapeError('WindowSampler.setState', `invalid state ${JSON.stringify(state)} (rng must be a uint32, batches an integer ≥ 0)`);
    }
    this.rng.setState(state.rng);
    this.batches = state.batches;
  }
}

export interface EvalWindowOptions {
  B: number;
  L: number;
  /** Distance between window starts within an utterance; default L (non-overlapping). */
  stride?: number;
}

/**
 * Every window [k·stride, k·stride + L) that fits in each utterance (in split order), grouped into
 * batches of B. The last batch is padded by repeating its last window; `count` says how many are real.
 * For probes: deterministic and covering the whole split, unlike the random sampler.
 */
export function* evalWindows(dataset: Dataset, split: Split, opts: EvalWindowOptions): Generator<WindowBatch> {
  const op = 'evalWindows';
  const { B, L } = opts;
  const stride = opts.stride ?? L;
  checkBL(op, B, L);
  if (!Number.isInteger(stride) || stride < 1) throw new ShapeError(op, `stride must be a positive integer`, { B, L, stride });
  const { list, eligible } = eligibleUtterances(op, dataset, split, L);
  let batch: WindowBatch | null = null;
  const fresh = (): WindowBatch => ({
    signal: new Float32Array(B * L), speakers: new Uint32Array(B), utterances: new Uint32Array(B),
    utteranceIds: new Array<string>(B), starts: new Uint32Array(B), count: 0,
  });
  const put = (bt: WindowBatch, b: number, ui: number, start: number) => {
    const u = list[ui]!;
    bt.signal.set(u.samples.subarray(start, start + L), b * L);
    bt.speakers[b] = u.speaker;
    bt.utterances[b] = ui;
    bt.utteranceIds[b] = u.id;
    bt.starts[b] = start;
  };
  for (const ui of eligible) {
    const n = list[ui]!.samples.length;
    for (let start = 0; start + L <= n; start += stride) {
      batch ??= fresh();
      put(batch, batch.count, ui, start);
      batch.count++;
      if (batch.count === B) { yield batch; batch = null; }
    }
  }
  if (batch) {
    const last = batch.count - 1;
    for (let b = batch.count; b < B; b++) put(batch, b, batch.utterances[last]!, batch.starts[last]!);
    yield batch;
  }
}
