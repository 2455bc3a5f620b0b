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
//     than the margin (pickVariant: two standard errors of the difference, at least 5 %), so measurement noise never swaps a default for a kernel that
//     is not clearly faster, and the tuned step is never slower than the fixed one.
import { CpcError, ShapeError } from './errors.ts';
import type { AdapterSummary, GpuContext } from './device.ts';
import type { PreparedOp } from './kernel.ts';
import { Profiler } from './profiler.ts';
import type { KernelVariant } from './variants.ts';

/** Bump when the cache's meaning changes (timing method, key fields): old entries then miss. */
export const TUNE_CACHE_FORMAT = 1;

/** What the cache remembers for one key. */
export interface TuneEntry {
  /** The chosen variant's id. */
  id: string;
  /** Median time of the chosen variant and of the default (ms per run of the op). */
  ms: number;
  defaultId: string;
  defaultMs: number;
  source: 'timestamp-query' | 'wall-clock';
  /** ISO time of the measurement. */
  at: string;
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

/** True when `v` has the shape of a TuneEntry (anything else read from storage is ignored). */
export function isTuneEntry(v: unknown): v is TuneEntry {
  const e = v as TuneEntry;
  return typeof e === 'object' && e !== null && typeof e.id === 'string' && typeof e.defaultId === 'string'
    && Number.isFinite(e.ms) && Number.isFinite(e.defaultMs) && (e.source === 'timestamp-query' || e.source === 'wall-clock');
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
    if (hit && cached) out.push({ ...base, variant: cached, source: 'cache', ms: hit.ms, defaultMs: hit.defaultMs });
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

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
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
  constructor(ctx: GpuContext, opts: { forceWallClock?: boolean } = {}) {
    this.profiler = new Profiler(ctx, 1, opts);
  }

  get source(): 'timestamp-query' | 'wall-clock' {
    return this.profiler.usesTimestamps ? 'timestamp-query' : 'wall-clock';
  }

  /** ms of `inner` back-to-back runs of `op` in one pass, divided by inner. */
  async time(op: PreparedOp, inner: number): Promise<number> {
    const repeated: PreparedOp = { ...op, encode: (pass) => { for (let i = 0; i < inner; i++) op.encode(pass); } };
    return (await this.profiler.profile([repeated])).totalMs / inner;
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
  /** The prepared op of the chosen variant (ready to use). */
  prepared: PreparedOp;
  /** Wall ms spent preparing the candidates (pipeline compilation) and timing them. */
  prepareMs: number;
  timingMs: number;
}

/** Times every candidate of one op (see the file header) and picks one. */
export async function tuneOp(
  ctx: GpuContext, target: TuneTarget, timer: VariantTimer, opts: { rounds?: number; minMargin?: number } = {},
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
  const { id, margin } = pickVariant(timings, opts.minMargin);
  const ci = target.variants.findIndex((v) => v.id === id);
  return {
    op: target.name, chosen: id, defaultId: target.variants[0]!.id, ms: timings[ci]!.ms, defaultMs: timings[0]!.ms, margin,
    source: timer.source, timings, prepared: prepared[ci]!, prepareMs: t1 - t0, timingMs: performance.now() - t1,
  };
}

/** The cache entry for a tuning result. */
export function tuneEntry(r: OpTuneResult): TuneEntry {
  return { id: r.chosen, ms: r.ms, defaultId: r.defaultId, defaultMs: r.defaultMs, source: r.source, at: new Date().toISOString() };
}
