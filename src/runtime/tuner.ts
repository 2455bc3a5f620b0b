// The kernel tuner: times each op's kernel variants (src/runtime/variants.ts) on the actual device
// for the actual shapes, and remembers the choice per (adapter + driver, op, dims, candidate list).
// Browser-safe: no Node imports (the Node file cache is src/node/tuneCache.ts; the browser one,
// IndexedDB, is below).
//
// How a choice is made (tuneOp):
//   - every candidate is prepared against the op's real arena tensors; the caller refreshes the
//     data with one real forward + loss + backward pass first, so timings see realistic values;
//   - two warm-up runs each (pipelines compile and caches warm); candidates far slower than the
//     fastest (PRUNE_FACTOR) stop there; then TUNE_ROUNDS rounds in which every remaining candidate
//     runs once, in a rotated order (no candidate always first after the refresh);
//     each sample is GPU time from timestamp-query when the device has it, else the wall clock
//     around submit + onSubmittedWorkDone; an op too short to time on its own is repeated within
//     one pass (`inner`) until a sample is ≥ MIN_SAMPLE_MS;
//   - the median per candidate; the fastest wins only if it beats the default's median by more
//     than the margin (pickVariant: two standard errors of the difference, at least 5 %), so
//     measurement noise never swaps a default for a kernel that is not clearly faster.
//
// The step guard (timeStepGuard + stepGuardRule): an op timed alone sits in other caches than inside
// the step, so a variant faster alone can be slower in the step. When the per-op picks differ from
// the defaults, whole steps (forward + loss + backward, one pass, as trainStep encodes them) are
// timed with the picks and with the defaults, interleaved in ABBA rounds, and the picks are kept
// only when they are faster by a paired sign test over the rounds AND the 95 % bootstrap interval of
// the speedup lies above 1; otherwise every op goes back to its default, so the tuned step is the
// fixed step. Its cost is bounded: GUARD_FRACTION of the per-op tuning time, at least
// MIN_GUARD_ROUNDS and at most MAX_GUARD_ROUNDS rounds of 4 steps.
import { Rng } from '../cpc/data/rng.ts';
import { median } from './median.ts';
import { CpcError, ShapeError } from './errors.ts';
import type { AdapterSummary, GpuContext } from './device.ts';
import type { PreparedOp } from './kernel.ts';
import { Profiler } from './profiler.ts';
import type { KernelVariant } from './variants.ts';

/** Bump when the cache's meaning changes (timing method, key fields): old entries then miss. */
// 2: entries carry the step guard's verdict; a format-1 choice was never checked in the step.
export const TUNE_CACHE_FORMAT = 2;

/**
 * The step guard's verdict on one tuning session's picks (see the file header). Speedups are
 * default / tuned step time (> 1: the picks are faster), as ratio_vs_fixed in bench/tuned.ts.
 */
export interface StepVerdict {
  /** The picks were kept (true) or every op went back to its default (false). */
  kept: boolean;
  /** The per-op picks that differed from the defaults, op → variant id: what was put to the test. */
  picks: Record<string, string>;
  /** Median ms of one step (forward + loss + backward) with the picks and with the defaults. */
  tunedMs: number;
  defaultMs: number;
  /** Geometric mean over rounds of default / tuned, and its 95 % percentile-bootstrap interval. */
  speedup: number;
  lo: number;
  hi: number;
  /** Rounds the picks won (strictly faster), of `rounds`; one-sided sign-test p of that many wins by chance. */
  wins: number;
  rounds: number;
  p: number;
  source: 'timestamp-query' | 'wall-clock';
  /** Wall ms the guard took (warm-up included). */
  guardMs: number;
  /** ISO time of the measurement. */
  at: string;
}

/** What the cache remembers for one key. */
export interface TuneEntry {
  /** The chosen variant's id (the default when the step guard reverted the session's picks). */
  id: string;
  /** Median time of the chosen variant and of the default (ms per run of the op). */
  ms: number;
  defaultId: string;
  defaultMs: number;
  source: 'timestamp-query' | 'wall-clock';
  /** ISO time of the measurement. */
  at: string;
  /** The step guard's verdict of the session that wrote this entry; absent when every pick was a default (nothing to guard). */
  step?: StepVerdict;
}

/** Where choices persist: a JSON file in Node (src/node/tuneCache.ts), IndexedDB in the browser. */
export interface TuneCache {
  get(key: string): Promise<TuneEntry | undefined>;
  set(key: string, entry: TuneEntry): Promise<void>;
}

/** The adapter and driver as the cache sees them; Mesa's and SwiftShader's descriptions carry the driver version. */
export function adapterKey(a: AdapterSummary): string {
  return [a.vendor, a.architecture, a.device, a.description].join(' | ');
}

/**
 * One cache key: adapter + driver, op name, dims (sorted) and the candidate ids in order — so a
 * different device, driver, shape or kernel list (a variant added or removed) misses.
 */
export function tuneKey(adapter: AdapterSummary, op: string, dims: Record<string, unknown>, ids: readonly string[]): string {
  const sortedDims = Object.fromEntries(Object.keys(dims).sort().map((k) => [k, dims[k]]));
  return JSON.stringify({ format: TUNE_CACHE_FORMAT, adapter: adapterKey(adapter), op, dims: sortedDims, candidates: ids });
}

/** A cache held in memory only (tests, or a session that should not persist). */
export class MemoryTuneCache implements TuneCache {
  readonly entries = new Map<string, TuneEntry>();
  async get(key: string): Promise<TuneEntry | undefined> {
    return this.entries.get(key);
  }
  async set(key: string, entry: TuneEntry): Promise<void> {
    this.entries.set(key, entry);
  }
}

const isSource = (s: unknown) => s === 'timestamp-query' || s === 'wall-clock';

/** True when `v` has the shape of a StepVerdict. */
export function isStepVerdict(v: unknown): v is StepVerdict {
  const e = v as StepVerdict;
  return typeof e === 'object' && e !== null && typeof e.kept === 'boolean' && typeof e.picks === 'object' && e.picks !== null
    && Object.values(e.picks).every((x) => typeof x === 'string')
    && [e.tunedMs, e.defaultMs, e.speedup, e.lo, e.hi, e.wins, e.rounds, e.p, e.guardMs].every((x) => typeof x === 'number' && Number.isFinite(x))
    && isSource(e.source) && typeof e.at === 'string';
}

/** True when `v` has the shape of a TuneEntry (anything else read from storage is ignored). */
export function isTuneEntry(v: unknown): v is TuneEntry {
  const e = v as TuneEntry;
  return typeof e === 'object' && e !== null && typeof e.id === 'string' && typeof e.defaultId === 'string'
    && Number.isFinite(e.ms) && Number.isFinite(e.defaultMs) && isSource(e.source)
    && (e.step === undefined || isStepVerdict(e.step));
}

/**
 * The browser cache: one IndexedDB object store, key → TuneEntry. Storage errors (private mode,
 * quota, no IndexedDB) never fail training: get misses and set is dropped, with one notice.
 */
export class IndexedDbTuneCache implements TuneCache {
  private db: Promise<IDBDatabase | null> | null = null;
  private warned = false;
  constructor(
    private readonly dbName = 'cpc-webgpu',
    private readonly notice: (msg: string) => void = (m) => console.warn(m),
  ) {}

  private warn(what: string, e: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.notice(`kernel tuning cache (IndexedDB '${this.dbName}'): ${what} failed (${(e as Error)?.message ?? e}); using defaults / not saving`);
  }

  private open(): Promise<IDBDatabase | null> {
    this.db ??= new Promise((resolve) => {
      const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!idb) { this.warn('open', new Error('no indexedDB')); resolve(null); return; }
      const req = idb.open(this.dbName, 1);
      req.onupgradeneeded = () => { if (!req.result.objectStoreNames.contains('tune')) req.result.createObjectStore('tune'); };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => { this.warn('open', req.error); resolve(null); };
    });
    return this.db;
  }

  private async request<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | undefined> {
    const db = await this.open();
    if (!db) return undefined;
    return new Promise((resolve) => {
      try {
        const req = f(db.transaction('tune', mode).objectStore('tune'));
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => { this.warn(mode === 'readonly' ? 'read' : 'write', req.error); resolve(undefined); };
      } catch (e) {
        this.warn(mode === 'readonly' ? 'read' : 'write', e);
        resolve(undefined);
      }
    });
  }

  async get(key: string): Promise<TuneEntry | undefined> {
    const v = await this.request('readonly', (s) => s.get(key));
    return isTuneEntry(v) ? v : undefined;
  }

  async set(key: string, entry: TuneEntry): Promise<void> {
    await this.request('readwrite', (s) => s.put(entry, key));
  }
}

// ---------------------------------------------------------------------------------------------
// Choosing without measuring: explicit ids, cache entries, defaults.

export type TuneMode = 'off' | 'cached' | 'measure';

/** A tunable op as the resolver sees it: its candidates on this device (default first) and key dims. */
export interface TunableOp {
  name: string;
  dims: Record<string, unknown>;
  variants: KernelVariant[];
}

export interface VariantChoice {
  op: string;
  variant: KernelVariant;
  /** Where the choice came from. */
  source: 'default' | 'cache' | 'tuned' | 'explicit';
  /** Cache key of this op on this device. */
  key: string;
  /** Candidate ids valid here, default first. */
  candidates: string[];
  /** Present when measured (now or from the cache): median ms of the choice and of the default. */
  ms?: number;
  defaultMs?: number;
  /** Only when measured in this session: median ms per candidate. */
  timings?: { id: string; ms: number }[];
  /** The step guard's verdict on the session that chose this (now, or from the cache entry). */
  step?: StepVerdict;
}

/**
 * The variant per tunable op: an explicit id wins (refused with one error naming the op and the
 * valid ids when it is not valid here), then — unless mode is 'off' — a cache entry whose id is
 * still a candidate, else the default (the list's first entry).
 */
export async function resolveVariants(
  ctx: GpuContext, ops: readonly TunableOp[], opts: { mode?: TuneMode; cache?: TuneCache | null; explicit?: Record<string, string> } = {},
): Promise<VariantChoice[]> {
  const explicit = opts.explicit ?? {};
  const names = new Set(ops.map((o) => o.name));
  for (const name of Object.keys(explicit)) {
    if (!names.has(name)) {
      throw new ShapeError('variants', `no tunable op '${name}' (tunable ops: ${[...names].join(', ')})`);
    }
  }
  const out: VariantChoice[] = [];
  for (const op of ops) {
    const ids = op.variants.map((v) => v.id);
    const key = tuneKey(ctx.adapter, op.name, op.dims, ids);
    const base = { op: op.name, key, candidates: ids };
    const want = explicit[op.name];
    if (want !== undefined) {
      const v = op.variants.find((c) => c.id === want);
      if (!v) throw new ShapeError(op.name, `variant '${want}' is not valid on this device for these dims (valid: ${ids.join(', ')})`, op.dims as never);
      out.push({ ...base, variant: v, source: 'explicit' });
      continue;
    }
    const def = op.variants[0];
    if (!def) throw new CpcError(op.name, 'no kernel variant is valid on this device');
    const hit = opts.mode !== 'off' && opts.cache ? await opts.cache.get(key) : undefined;
    const cached = hit && op.variants.find((c) => c.id === hit.id);
    if (hit && cached) out.push({ ...base, variant: cached, source: 'cache', ms: hit.ms, defaultMs: hit.defaultMs, ...(hit.step ? { step: hit.step } : {}) });
    else out.push({ ...base, variant: def, source: 'default' });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/** Timing rounds per op (each candidate once per round); the median of 7 tolerates 3 outliers. */
export const TUNE_ROUNDS = 7;
/** Shortest sample worth timing; shorter ops are repeated within one pass to reach it. */
const MIN_SAMPLE_MS = 1;
const MAX_INNER = 32;

/**
 * Smallest relative gain that adopts a non-default variant, whatever the measured noise: an op
 * timed alone sits in different caches than inside the step, and on a GPU the two differ by a few
 * per cent; 5 % keeps a switch a real gain rather than a coin flip.
 */
export const MIN_TUNE_MARGIN = 0.05;
/**
 * After the warm-up, a candidate whose best run is slower than this multiple of the best run of
 * any candidate is not timed further (on lavapipe the portable lane sharing and the largest
 * workgroups run 2–7× slower than the default: timing them 7 more times is most of the cost).
 * The default is always timed, so pruning can miss a gain but never cause a loss.
 */
export const PRUNE_FACTOR = 1.5;

export interface CandidateTiming {
  id: string;
  /** Median ms per run of the op. */
  ms: number;
  /** Robust relative spread of the samples (1.4826 · MAD / median ≈ σ / median). */
  noise: number;
  samples: number[];
}

/** Median and robust relative spread of a candidate's samples. */
export function summarizeSamples(id: string, samples: readonly number[]): CandidateTiming {
  const ms = median(samples);
  const mad = median(samples.map((x) => Math.abs(x - ms)));
  return { id, ms, noise: ms > 0 ? (1.4826 * mad) / ms : 0, samples: [...samples] };
}

/**
 * The fastest candidate if it clearly beats the default (timings[0]), else the default. Two tests,
 * both required:
 *   - its median is below the default's by more than the margin: two standard errors of the
 *     difference of the two medians, from each one's measured spread (the median of n samples has
 *     a standard error of ≈ 1.25 σ / √n), and at least MIN_TUNE_MARGIN;
 *   - it was faster than the default in all but at most one of the rounds (samples[r] of both are
 *     round r, taken close together): a sign test (≥ 6 of 7: p ≈ 0.06 by chance) that a burst of
 *     machine load during some rounds cannot pass, while it can shift a median.
 * On 2 cores shared with other jobs (load 15) single samples spread 5–80 %: the default then
 * mostly stays. On a quiet machine or a GPU the spread is a few per cent.
 */
export function pickVariant(timings: readonly CandidateTiming[], minMargin = MIN_TUNE_MARGIN): { id: string; margin: number } {
  const def = timings[0];
  if (!def) throw new Error('pickVariant: no candidates');
  let best = def;
  for (const t of timings) if (t.samples.length > 0 && t.ms < best.ms) best = t;
  const se = (t: CandidateTiming) => (1.25 * t.noise) / Math.sqrt(Math.max(1, t.samples.length));
  const margin = Math.max(minMargin, 2 * Math.hypot(se(def), se(best)));
  const rounds = Math.min(def.samples.length, best.samples.length);
  let wins = 0;
  for (let r = 0; r < rounds; r++) if (best.samples[r]! < def.samples[r]!) wins++;
  const clear = best !== def && best.ms < def.ms * (1 - margin) && rounds > 0 && wins >= rounds - 1;
  return { id: clear ? best.id : def.id, margin };
}

/** Times prepared ops: timestamp-query when the device has it, else submit → onSubmittedWorkDone. */
export class VariantTimer {
  // The profiler already times one op either way: timestamp-query when the device has it (and it is
  // not forced off), else submit + onSubmittedWorkDone around the op's pass.
  private readonly profiler: Profiler;
  /** Samples taken so far by the method that actually produced them (what the profiler reported). */
  readonly samplesBy: Record<'timestamp-query' | 'wall-clock', number> = { 'timestamp-query': 0, 'wall-clock': 0 };
  constructor(ctx: GpuContext, opts: { forceWallClock?: boolean } = {}) {
    this.profiler = new Profiler(ctx, 1, opts);
  }

  get source(): 'timestamp-query' | 'wall-clock' {
    return this.profiler.usesTimestamps ? 'timestamp-query' : 'wall-clock';
  }

  /** ms of `inner` back-to-back runs of `op` in one pass, divided by inner. */
  async time(op: PreparedOp, inner: number): Promise<number> {
    const repeated: PreparedOp = { ...op, encode: (pass) => { for (let i = 0; i < inner; i++) op.encode(pass); } };
    const r = await this.profiler.profile([repeated]);
    this.samplesBy[r.source]++;
    return r.totalMs / inner;
  }
}

export interface TuneTarget {
  name: string;
  /** Candidates, default first. */
  variants: KernelVariant[];
  /** Prepares the op with a variant's options against the real tensors. */
  prepare(variant: KernelVariant): Promise<PreparedOp>;
}

export interface OpTuneResult {
  op: string;
  chosen: string;
  defaultId: string;
  /** Median ms of the chosen variant and of the default. */
  ms: number;
  defaultMs: number;
  margin: number;
  source: 'timestamp-query' | 'wall-clock';
  timings: CandidateTiming[];
  /** The prepared op of the chosen variant (ready to use), and of the default (for the step guard). */
  prepared: PreparedOp;
  defaultPrepared: PreparedOp;
  /** Wall ms spent preparing the candidates (pipeline compilation) and timing them. */
  prepareMs: number;
  timingMs: number;
}

/** Times every candidate of one op (see the file header) and picks one. */
export async function tuneOp(
  ctx: GpuContext, target: TuneTarget, timer: VariantTimer,
  opts: { rounds?: number; minMargin?: number; pick?: (timings: readonly CandidateTiming[]) => string } = {},
): Promise<OpTuneResult> {
  const rounds = opts.rounds ?? TUNE_ROUNDS;
  const t0 = performance.now();
  const prepared = await ctx.scoped(`tune ${target.name}`, undefined, () => Promise.all(target.variants.map((v) => target.prepare(v))));
  const t1 = performance.now();
  // Warm-up: first runs compile lazily on some drivers; it also sizes `inner`.
  const warm = prepared.map(() => Infinity);
  for (let w = 0; w < 2; w++) {
    for (let i = 0; i < prepared.length; i++) warm[i] = Math.min(warm[i]!, await timer.time(prepared[i]!, 1));
  }
  const fastest = Math.min(...warm);
  const inner = Math.min(MAX_INNER, Math.max(1, Math.ceil(MIN_SAMPLE_MS / Math.max(fastest, 1e-3))));
  const live = prepared.map((_, i) => i).filter((i) => i === 0 || warm[i]! <= PRUNE_FACTOR * fastest);
  const samples: number[][] = prepared.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < live.length; j++) {
      const i = live[(j + r) % live.length]!;
      samples[i]!.push(await timer.time(prepared[i]!, inner));
    }
  }
  ctx.throwUncaptured(`tune ${target.name}`);
  // Pruned candidates report their warm-up time (one sample: never picked over a timed one).
  const timings = target.variants.map((v, i) => (samples[i]!.length ? summarizeSamples(v.id, samples[i]!) : { id: v.id, ms: warm[i]!, noise: 0, samples: [] }));
  const rule = pickVariant(timings, opts.minMargin);
  const id = opts.pick ? opts.pick(timings) : rule.id;
  const ci = target.variants.findIndex((v) => v.id === id);
  if (ci < 0) throw new CpcError(target.name, `tuning picked '${id}', which is not a candidate (${target.variants.map((v) => v.id).join(', ')})`);
  return {
    op: target.name, chosen: id, defaultId: target.variants[0]!.id, ms: timings[ci]!.ms, defaultMs: timings[0]!.ms, margin: rule.margin,
    source: timer.source, timings, prepared: prepared[ci]!, defaultPrepared: prepared[0]!, prepareMs: t1 - t0, timingMs: performance.now() - t1,
  };
}

/**
 * The cache entry for a tuning result after the step guard: `verdict` null when the session picked
 * only defaults (no guard ran); a reverted verdict stores the default as the choice.
 */
export function tuneEntry(r: OpTuneResult, verdict: StepVerdict | null = null): TuneEntry {
  const reverted = verdict !== null && !verdict.kept;
  return {
    id: reverted ? r.defaultId : r.chosen, ms: reverted ? r.defaultMs : r.ms, defaultId: r.defaultId, defaultMs: r.defaultMs,
    source: r.source, at: new Date().toISOString(), ...(verdict ? { step: verdict } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The step guard (file header).

/**
 * The verdict on a set of choices read from the cache: the latest one stored with them (entries
 * from different tuning sessions carry different verdicts; the latest judged the newest picks).
 */
export function latestVerdict(choices: readonly VariantChoice[]): StepVerdict | null {
  let best: StepVerdict | null = null;
  for (const c of choices) if (c.step && (!best || c.step.at > best.at)) best = c.step;
  return best;
}

/** One line: kept / reverted, the picks, both step times, the speedup with its interval, the rounds. */
export function formatVerdict(v: StepVerdict | null): string {
  if (!v) return 'step guard: not run (every pick was a default)';
  const picks = Object.entries(v.picks).map(([op, id]) => `${op}=${id}`).join(' ');
  return `step guard: ${v.kept ? 'kept' : 'reverted to defaults'} (${picks}): step ${v.tunedMs.toFixed(2)} ms tuned vs ${v.defaultMs.toFixed(2)} ms default, ` +
    `speedup ${v.speedup.toFixed(3)} [95 % ${v.lo.toFixed(3)}, ${v.hi.toFixed(3)}], won ${v.wins}/${v.rounds} rounds (sign test p = ${v.p.toFixed(3)}; ${v.source}, ${(v.guardMs / 1000).toFixed(1)} s)`;
}

/** Fewest rounds the guard times: with 5, only 5 wins of 5 pass the sign test (p = 1/32). */
export const MIN_GUARD_ROUNDS = 5;
/** Most rounds: 15 resolve a ≈ 2 % step difference at the few-per-cent spread of a quiet machine. */
export const MAX_GUARD_ROUNDS = 15;
/** The guard's share of the per-op tuning time (beyond MIN_GUARD_ROUNDS). */
export const GUARD_FRACTION = 0.1;
/** One-sided significance of the sign test. */
export const GUARD_ALPHA = 0.05;
const GUARD_BOOTSTRAP = 2000;
/** Fixed bootstrap seed: the verdict is a function of the timings alone. */
const GUARD_SEED = 16;

/** One ABBA round: two step times with the picks and two with the defaults, taken in a mirrored order. */
export interface GuardRound {
  tuned: readonly number[];
  fixed: readonly number[];
}

/** One-sided sign test: P(at least `wins` of `n` fair coin flips). */
export function signTestP(wins: number, n: number): number {
  let c = 1, tail = 0; // c = C(n, k), walked from k = 0
  for (let k = 0; k <= n; k++) {
    if (k >= wins) tail += c;
    c = (c * (n - k)) / (k + 1);
  }
  return tail / 2 ** n;
}

/** Rounds the guard times: GUARD_FRACTION of the tuning time over one round's cost, clamped. */
export function guardRounds(tuneMs: number, roundMs: number): number {
  const fit = roundMs > 0 && Number.isFinite(roundMs) ? Math.floor((GUARD_FRACTION * tuneMs) / roundMs) : MIN_GUARD_ROUNDS;
  return Math.min(MAX_GUARD_ROUNDS, Math.max(MIN_GUARD_ROUNDS, fit));
}

/**
 * The guard's decision, a pure function of the round timings. Per round, speedup = Σ fixed / Σ tuned
 * (ABBA: a linear drift in load within the round hits both alike). Kept only when all of:
 *   - at least MIN_GUARD_ROUNDS rounds;
 *   - the picks won (speedup > 1 strictly; a tie is no win) in enough rounds that the one-sided sign
 *     test gives p ≤ GUARD_ALPHA (5 of 5, 6 of 6, 7 of 7 … 12 of 15): a burst of load in a few
 *     rounds cannot fake it, whatever its size;
 *   - the 95 % percentile-bootstrap interval of the geometric-mean speedup lies above 1.
 * Anything else — a tie, noise, a loss, a round with unusable (non-finite, ≤ 0) times, which counts as
 * a tie — reverts to the defaults: a wrong revert costs a missed gain, a wrong keep a slower step.
 */
export function stepGuardRule(rounds: readonly GuardRound[]): Omit<StepVerdict, 'picks' | 'source' | 'guardMs' | 'at'> {
  const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
  const logs = rounds.map((r) => {
    const t = sum(r.tuned), f = sum(r.fixed);
    const ok = r.tuned.length > 0 && r.fixed.length > 0 && [...r.tuned, ...r.fixed].every((x) => Number.isFinite(x) && x > 0);
    return ok ? Math.log(f / t) : 0;
  });
  const n = logs.length;
  const wins = logs.filter((l) => l > 0).length;
  const p = signTestP(wins, n);
  const mean = (xs: ArrayLike<number>) => { let s = 0; for (let i = 0; i < xs.length; i++) s += xs[i]!; return xs.length ? s / xs.length : 0; };
  const boot = new Float64Array(n ? GUARD_BOOTSTRAP : 1);
  if (n) {
    const rng = new Rng(GUARD_SEED);
    for (let b = 0; b < GUARD_BOOTSTRAP; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += logs[rng.int(n)]!;
      boot[b] = s / n;
    }
    boot.sort();
  }
  const lo = Math.exp(boot[Math.floor(0.025 * (boot.length - 1))]!);
  const hi = Math.exp(boot[Math.ceil(0.975 * (boot.length - 1))]!);
  const all = (k: 'tuned' | 'fixed') => rounds.flatMap((r) => r[k]).filter((x) => Number.isFinite(x));
  const tunedMs = all('tuned').length ? median(all('tuned')) : 0;
  const defaultMs = all('fixed').length ? median(all('fixed')) : 0;
  const kept = n >= MIN_GUARD_ROUNDS && p <= GUARD_ALPHA && lo > 1;
  return { kept, tunedMs, defaultMs, speedup: Math.exp(mean(logs)), lo, hi, wins, rounds: n, p };
}

/**
 * Times whole steps for the guard: `tuned` and `fixed` are each one prepared op that encodes a
 * step's dispatches into one pass. One warm-up of each, then guardRounds(tuneMs, …) ABBA rounds
 * (the order mirrored every other round: TFFT, FTTF) through the tuner's timer, ending early once
 * past MIN_GUARD_ROUNDS and GUARD_FRACTION · tuneMs: so it takes at most the larger of that share
 * and MIN_GUARD_ROUNDS rounds, plus one round. `rounds` fixes the count instead (tests).
 */
export async function timeStepGuard(
  timer: VariantTimer, tuned: PreparedOp, fixed: PreparedOp, opts: { tuneMs: number; rounds?: number },
): Promise<{ rounds: GuardRound[]; guardMs: number }> {
  const t0 = performance.now();
  const wt = await timer.time(tuned, 1), wf = await timer.time(fixed, 1);
  const n = opts.rounds ?? guardRounds(opts.tuneMs, 2 * (wt + wf));
  // The warm-up estimate can be low when load rises (measured: 9 rounds planned for 10 % of a 73 s
  // tuning took 11.7 s), so past MIN_GUARD_ROUNDS the guard also stops once its share is spent.
  const budgetMs = opts.rounds === undefined ? GUARD_FRACTION * opts.tuneMs : Infinity;
  const rounds: GuardRound[] = [];
  for (let r = 0; r < n; r++) {
    if (r >= MIN_GUARD_ROUNDS && performance.now() - t0 > budgetMs) break;
    const round = { tuned: [] as number[], fixed: [] as number[] };
    const order = r % 2 ? ['fixed', 'tuned', 'tuned', 'fixed'] as const : ['tuned', 'fixed', 'fixed', 'tuned'] as const;
    for (const which of order) round[which].push(await timer.time(which === 'tuned' ? tuned : fixed, 1));
    rounds.push(round);
  }
  return { rounds, guardMs: performance.now() - t0 };
}
