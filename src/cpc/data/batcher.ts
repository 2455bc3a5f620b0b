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

function checkBL(op: string, B: number, L: number): void {
  if (!Number.isInteger(B) || B < 1) throw new ShapeError(op, `B must be a positive integer`, { B, L });
  if (!Number.isInteger(L) || L < 1) throw new ShapeError(op, `L must be a positive integer`, { B, L });
  // [B, L] float32 must stay a normal typed array (and a realistic GPU upload).
  if (B * L > 2 ** 28) throw new ShapeError(op, `B·L = ${B * L} samples per batch exceeds 2^28`, { B, L });
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
    throw new ShapeError(op, `no ${split} utterance of ${dataset.name} is at least L = ${L} samples long (${list.length} utterances, the longest has ${longest} samples)`, { L, longest, utterances: list.length });
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
  private readonly list: readonly Utterance[];
  private readonly eligible: Uint32Array;
  private readonly rng: Rng;
  /** samespeaker: eligible utterance indices per speaker id; null for uniform. */
  private readonly bySpeaker: Map<number, Uint32Array> | null;
  private batches = 0;

  constructor(readonly dataset: Dataset, split: Split, opts: WindowSamplerOptions) {
    const op = 'WindowSampler';
    checkBL(op, opts.B, opts.L);
    this.B = opts.B;
    this.L = opts.L;
    this.split = split;
    const { list, eligible } = eligibleUtterances(op, dataset, split, opts.L);
    this.list = list;
    this.eligible = eligible;
    this.rng = new Rng(opts.seed);
    const sampling = opts.sampling ?? 'uniform';
    if (sampling !== 'uniform' && sampling !== 'samespeaker') throw new ShapeError(op, `unknown sampling mode '${String(sampling)}'`);
    this.bySpeaker = sampling === 'samespeaker' ? groupBySpeaker(list, eligible) : null;
  }

  /** The utterance of window b (the only place the two sampling modes differ). */
  private pickUtterance(b: number, first: number): number {
    if (b === 0 || !this.bySpeaker) return this.eligible[this.rng.int(this.eligible.length)]!;
    const group = this.bySpeaker.get(this.list[first]!.speaker)!;
    return group[this.rng.int(group.length)]!;
  }

  /** Number of utterances windows are drawn from. */
  get eligibleCount(): number {
    return this.eligible.length;
  }

  /** Next batch; writes into `out.signal` etc. when given (reuse for double-buffered uploads). */
  next(out?: WindowBatch): WindowBatch {
    const { B, L } = this;
    const batch = out ?? {
      signal: new Float32Array(B * L), speakers: new Uint32Array(B), utterances: new Uint32Array(B),
      utteranceIds: new Array<string>(B), starts: new Uint32Array(B), count: B,
    };
    if (batch.signal.length !== B * L || batch.speakers.length !== B || batch.starts.length !== B || batch.utterances.length !== B) {
      throw new ShapeError('WindowSampler.next', `output batch does not match [B, L]`, { B, L, signal: batch.signal.length });
    }
    let first = 0;
    for (let b = 0; b < B; b++) {
      const ui = this.pickUtterance(b, first);
      if (b === 0) first = ui;
      const u = this.list[ui]!;
      const start = this.rng.int(u.samples.length - L + 1);
      batch.signal.set(u.samples.subarray(start, start + L), b * L);
      batch.speakers[b] = u.speaker;
      batch.utterances[b] = ui;
      batch.utteranceIds[b] = u.id;
      batch.starts[b] = start;
    }
    batch.count = B;
    this.batches++;
    return batch;
  }

  getState(): WindowSamplerState {
    return { rng: this.rng.getState(), batches: this.batches };
  }

  setState(state: WindowSamplerState): void {
    if (!state || !Number.isInteger(state.batches) || state.batches < 0) {
      throw new ShapeError('WindowSampler.setState', `invalid state ${JSON.stringify(state)}`);
    }
    this.rng.setState(state.rng);
    this.batches = state.batches;
  }
}

function groupBySpeaker(list: readonly Utterance[], eligible: Uint32Array): Map<number, Uint32Array> {
  const groups = new Map<number, number[]>();
  for (const ui of eligible) {
    const s = list[ui]!.speaker;
    let g = groups.get(s);
    if (!g) groups.set(s, (g = []));
    g.push(ui);
  }
  return new Map([...groups].map(([s, g]) => [s, Uint32Array.from(g)]));
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
