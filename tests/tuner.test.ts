// The kernel tuner (src/runtime/tuner.ts): its choice rule, its caches (in memory, the Node file;
// invalidation on another adapter/driver string or another candidate list; a corrupt file), the
// trainer's 'measure' / 'cached' / explicit modes, and `cpc-webgpu tune` → `train` / `info`.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/cpc/config.ts';
import { buildCpcGraph, graphTunables } from '../src/cpc/graph.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { NodeTuneCache, TUNE_CACHE_FILE } from '../src/node/tuneCache.ts';
import { ShapeError } from '../src/runtime/errors.ts';
import {
  formatVerdict, guardRounds, isTuneEntry, latestVerdict, MemoryTuneCache, pickVariant, resolveVariants, signTestP, stepGuardRule,
  summarizeSamples, tuneKey, GUARD_FRACTION, MAX_GUARD_ROUNDS, MIN_GUARD_ROUNDS, MIN_TUNE_MARGIN, type GuardRound, type StepVerdict, type TuneEntry,
} from '../src/runtime/tuner.ts';
import { testDevice } from './helpers/gpu.ts';
import { cli, lastJson } from './helpers/cli.ts';

const cfg = resolveConfig('tiny', { norm: false });
let root = '';
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-tune-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

const entry = (id: string, defaultId: string): TuneEntry => ({ id, ms: 1, defaultId, defaultMs: 2, source: 'wall-clock', at: '2026-01-01T00:00:00Z' });

function trainData(n: number): Float32Array[] {
  const ds = createSyntheticDataset({ seed: 3, speakers: 4, utterancesPerSpeaker: 4 });
  const s = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 3 });
  return Array.from({ length: n }, () => s.next().signal);
}

async function losses(t: CpcTrainer, data: Float32Array[]): Promise<number[]> {
  for (const x of data) await t.trainStep(x);
  return (await t.flush()).map((m) => m.loss);
}

describe('pickVariant', () => {
  const timing = (id: string, ms: number, spread: number) => summarizeSamples(id, [ms * (1 - spread), ms, ms, ms * (1 + spread), ms, ms * (1 - spread), ms * (1 + spread)]);
  it('keeps the default unless a candidate is faster by more than the noise-derived margin', () => {
    // 3 % faster with no noise: below MIN_TUNE_MARGIN.
    expect(pickVariant([timing('def', 10, 0), timing('a', 9.7, 0)]).id).toBe('def');
    // 20 % faster, no noise: taken.
    expect(pickVariant([timing('def', 10, 0), timing('a', 8, 0)])).toEqual({ id: 'a', margin: MIN_TUNE_MARGIN });
    // 20 % faster but samples spread ±50 %: the margin grows past the gain, the default stays.
    const noisy = pickVariant([timing('def', 10, 0.5), timing('a', 8, 0.5)]);
    expect(noisy.id).toBe('def');
    expect(noisy.margin).toBeGreaterThan(0.2);
    // 30 % faster by the median: a win when slower in at most one round, not when slower in two
    // (a burst of load can shift a median; it cannot win six rounds of seven).
    const d = summarizeSamples('def', [10, 10, 10, 10, 10, 10, 10]);
    expect(pickVariant([d, summarizeSamples('a', [7, 7, 7, 7, 7, 7, 11])]).id).toBe('a');
    expect(pickVariant([summarizeSamples('def', [10, 10, 10, 10, 10, 10, 10]), summarizeSamples('a', [7, 7, 7, 7, 7, 11, 11])]).id).toBe('def');
    // The fastest of several wins; a pruned candidate (warm-up only, no samples) is never picked.
    const pruned = { id: 'p', ms: 1, noise: 0, samples: [] };
    expect(pickVariant([timing('def', 10, 0), timing('a', 8, 0), timing('b', 6, 0), pruned]).id).toBe('b');
  });
});

describe('stepGuardRule (the step guard decision, on injected timings)', () => {
  // Round r: the picks take tuned[r] ms, the defaults fixed[r] ms; ABBA gives two samples of each.
  const rounds = (tuned: number[], fixed: number[]): GuardRound[] => tuned.map((t, r) => ({ tuned: [t, t], fixed: [fixed[r]!, fixed[r]!] }));
  const wobble = (ms: number, n: number, spread: number) => Array.from({ length: n }, (_, r) => ms * (1 + spread * Math.sin(1.7 * r + 0.3)));

  it('signTestP is the binomial tail; guardRounds is GUARD_FRACTION of the tuning time, clamped', () => {
    expect(signTestP(5, 5)).toBe(1 / 32);
    expect(signTestP(0, 7)).toBe(1);
    expect(signTestP(6, 7)).toBeCloseTo(8 / 128, 15);
    expect(signTestP(12, 15)).toBeCloseTo((1 + 15 + 105 + 455) / 32768, 15);
    expect(signTestP(11, 15)).toBeGreaterThan(0.05); // so 15 rounds need 12 wins
    expect(guardRounds(60_000, 1000)).toBe(Math.floor((GUARD_FRACTION * 60_000) / 1000)); // 6
    expect(guardRounds(600_000, 100)).toBe(MAX_GUARD_ROUNDS);
    expect(guardRounds(1000, 1000)).toBe(MIN_GUARD_ROUNDS);
    expect(guardRounds(1000, Number.NaN)).toBe(MIN_GUARD_ROUNDS);
  });

  it('kept: picks faster in every round; the interval is above 1 and contains the true speedup', () => {
    const v = stepGuardRule(rounds(wobble(90, 8, 0.02), wobble(100, 8, 0.02)));
    expect([v.kept, v.wins, v.rounds]).toEqual([true, 8, 8]);
    expect(v.p).toBe(1 / 256);
    expect(v.lo).toBeGreaterThan(1);
    expect(v.lo).toBeLessThanOrEqual(100 / 90);
    expect(v.hi).toBeGreaterThanOrEqual(100 / 90);
    expect(v.speedup).toBeCloseTo(100 / 90, 10); // same wobble on both: every round's ratio is 100/90
    expect(v.tunedMs).toBeLessThan(v.defaultMs);
  });

  it('reverted: picks slower; ties (identical timings) revert; too few rounds revert', () => {
    const slow = stepGuardRule(rounds(wobble(110, 8, 0.02), wobble(100, 8, 0.02)));
    expect([slow.kept, slow.wins]).toEqual([false, 0]);
    expect(slow.hi).toBeLessThan(1);
    const tie = stepGuardRule(rounds(wobble(100, 8, 0.03), wobble(100, 8, 0.03)));
    expect([tie.kept, tie.wins, tie.speedup, tie.lo, tie.hi]).toEqual([false, 0, 1, 1, 1]);
    expect(tie.p).toBe(1);
    // 4 rounds all won by 20 %: the sign test could not reach p ≤ 0.05 (1/16), so no keep.
    const short = stepGuardRule(rounds([80, 80, 80, 80], [100, 100, 100, 100]));
    expect([short.kept, short.wins, short.rounds]).toEqual([false, 4, 4]);
    expect(stepGuardRule([]).kept).toBe(false);
  });

  it('noisy: a median gain with rounds that disagree reverts; a burst that wins the sign test but not the interval reverts', () => {
    // Picks 10 % faster on average but lose 2 rounds of 8 (p = 37/256 ≈ 0.14).
    const tuned = [85, 86, 112, 84, 87, 115, 85, 86];
    const noisy = stepGuardRule(rounds(tuned, Array(8).fill(100)));
    expect([noisy.kept, noisy.wins]).toEqual([false, 6]);
    expect(noisy.p).toBeCloseTo(37 / 256, 12);
    // 7 of 8 rounds won by 3 % (sign test p = 9/256 passes) but one round 3× slower: the geometric
    // mean is below 1 and the interval reaches below 1, so the picks go.
    const burst = stepGuardRule(rounds([97, 97, 97, 300, 97, 97, 97, 97], Array(8).fill(100)));
    expect([burst.kept, burst.wins]).toEqual([false, 7]);
    expect(burst.p).toBeLessThanOrEqual(0.05);
    expect(burst.lo).toBeLessThan(1);
    // A round with an unusable sample (NaN, 0) counts as a tie: 7 wins of 8 with one such round.
    const bad = rounds(wobble(90, 8, 0.01), wobble(100, 8, 0.01));
    bad[3] = { tuned: [Number.NaN, 90], fixed: [100, 100] };
    bad[5] = { tuned: [90, 90], fixed: [0, 100] };
    const b = stepGuardRule(bad);
    expect(b.wins).toBe(6);
    expect(b.kept).toBe(false); // 6 of 8: p = 37/256
  });

  it('deterministic: the same timings give the same verdict (fixed bootstrap seed); ABBA halves count per round', () => {
    const r = rounds([95, 99, 93, 97, 96, 94, 98, 92, 95, 96], [100, 98, 101, 99, 100, 97, 100, 99, 98, 100]);
    expect(stepGuardRule(r)).toEqual(stepGuardRule(r.map((x) => ({ tuned: [...x.tuned], fixed: [...x.fixed] }))));
    // A round's ratio is Σ fixed / Σ tuned: one slow half of a round is averaged with the other half.
    const v = stepGuardRule([{ tuned: [90, 120], fixed: [100, 100] }, ...rounds([90, 90, 90, 90, 90], Array(5).fill(100))]);
    expect([v.wins, v.rounds]).toEqual([5, 6]); // 210 > 200: round 0 is a loss
  });
});

describe('tuning caches', () => {
  it('the key changes with the adapter/driver string, the op, the dims and the candidate list', async () => {
    const ctx = await testDevice();
    const a = ctx.adapter;
    const k = tuneKey(a, 'conv1.fwd', { B: 2, C: 8 }, ['x', 'y']);
    expect(tuneKey(a, 'conv1.fwd', { C: 8, B: 2 }, ['x', 'y'])).toBe(k); // dims order does not matter
    for (const other of [
      tuneKey({ ...a, description: `${a.description} (other driver)` }, 'conv1.fwd', { B: 2, C: 8 }, ['x', 'y']),
      tuneKey({ ...a, vendor: 'other' }, 'conv1.fwd', { B: 2, C: 8 }, ['x', 'y']),
      tuneKey(a, 'conv2.fwd', { B: 2, C: 8 }, ['x', 'y']),
      tuneKey(a, 'conv1.fwd', { B: 4, C: 8 }, ['x', 'y']),
      tuneKey(a, 'conv1.fwd', { B: 2, C: 8 }, ['x', 'y', 'z']),
    ]) expect(other).not.toBe(k);
  });

  it('resolveVariants: a cache entry is used on this adapter only, for this candidate list only', async () => {
    const ctx = await testDevice();
    const ops = graphTunables(buildCpcGraph(cfg), ctx);
    const op = ops.find((o) => o.name === 'gru.bwd')!;
    const ids = op.variants.map((v) => v.id);
    const alt = ids[1]!;
    const cache = new MemoryTuneCache();
    // Stored for another driver string and for a different candidate list: both miss.
    await cache.set(tuneKey({ ...ctx.adapter, description: `${ctx.adapter.description} (other driver)` }, op.name, op.dims, ids), entry(alt, ids[0]!));
    await cache.set(tuneKey(ctx.adapter, op.name, op.dims, [...ids, 'new.kernel']), entry(alt, ids[0]!));
    let c = (await resolveVariants(ctx, ops, { cache })).find((x) => x.op === op.name)!;
    expect([c.source, c.variant.id]).toEqual(['default', ids[0]]);
    // Stored for this adapter, these dims and this list: used ('cached' is the default mode), ignored with 'off'.
    await cache.set(tuneKey(ctx.adapter, op.name, op.dims, ids), entry(alt, ids[0]!));
    c = (await resolveVariants(ctx, ops, { cache })).find((x) => x.op === op.name)!;
    expect([c.source, c.variant.id]).toEqual(['cache', alt]);
    c = (await resolveVariants(ctx, ops, { cache, mode: 'off' })).find((x) => x.op === op.name)!;
    expect([c.source, c.variant.id]).toEqual(['default', ids[0]]);
    // An entry naming an id that is no longer a candidate is ignored.
    await cache.set(tuneKey(ctx.adapter, op.name, op.dims, ids), entry('gone', ids[0]!));
    c = (await resolveVariants(ctx, ops, { cache })).find((x) => x.op === op.name)!;
    expect(c.source).toBe('default');
  });

  it('the step verdict round-trips through the caches and resolveVariants; a malformed one drops the entry', async () => {
    const verdict: StepVerdict = {
      kept: false, picks: { 'gru.bwd': 'x' }, tunedMs: 12.5, defaultMs: 11.25, speedup: 0.9, lo: 0.85, hi: 0.95, wins: 0, rounds: 6,
      p: 1, source: 'timestamp-query', guardMs: 1234, at: '2026-01-02T00:00:00Z',
    };
    const withStep = { ...entry('d', 'd'), step: verdict };
    expect(isTuneEntry(withStep)).toBe(true);
    expect(isTuneEntry({ ...entry('d', 'd'), step: { ...verdict, kept: 'no' } })).toBe(false);
    expect(isTuneEntry({ ...entry('d', 'd'), step: { ...verdict, speedup: null } })).toBe(false);
    const dir = join(root, 'verdictcache');
    await new NodeTuneCache({ dir }).set('k', withStep);
    expect(await new NodeTuneCache({ dir }).get('k')).toEqual(withStep);
    // resolveVariants carries it to the choice (and only for this adapter string: another one misses).
    const ctx = await testDevice();
    const ops = graphTunables(buildCpcGraph(cfg), ctx);
    const op = ops.find((o) => o.name === 'gru.bwd')!;
    const ids = op.variants.map((v) => v.id);
    const cache = new MemoryTuneCache();
    await cache.set(tuneKey({ ...ctx.adapter, description: `${ctx.adapter.description} (other driver)` }, op.name, op.dims, ids), { ...withStep, id: ids[0]! });
    expect(latestVerdict(await resolveVariants(ctx, ops, { cache }))).toBeNull();
    await cache.set(tuneKey(ctx.adapter, op.name, op.dims, ids), { ...withStep, id: ids[0]! });
    const newer = { ...verdict, kept: true, at: '2026-02-01T00:00:00Z' };
    const op2 = ops.find((o) => o.name === 'gru.fwd')!;
    await cache.set(tuneKey(ctx.adapter, op2.name, op2.dims, op2.variants.map((v) => v.id)), { ...entry(op2.variants[0]!.id, op2.variants[0]!.id), step: newer });
    const choices = await resolveVariants(ctx, ops, { cache });
    expect(choices.find((c) => c.op === 'gru.bwd')!.step).toEqual(verdict);
    expect(latestVerdict(choices)).toEqual(newer);
    expect(formatVerdict(verdict)).toBe('step guard: reverted to defaults (gru.bwd=x): step 12.50 ms tuned vs 11.25 ms default, ' +
      'speedup 0.900 [95 % 0.850, 0.950], won 0/6 rounds (sign test p = 1.000; timestamp-query, 1.2 s)');
  });

  it('explicit ids: an invalid one is refused naming the op and the valid ids; an unknown op too', async () => {
    const ctx = await testDevice();
    const ops = graphTunables(buildCpcGraph(cfg), ctx);
    const ids = ops.find((o) => o.name === 'conv1.fwd')!.variants.map((v) => v.id);
    await expect(resolveVariants(ctx, ops, { explicit: { 'conv1.fwd': 'nope' } })).rejects.toThrow(ShapeError);
    await expect(resolveVariants(ctx, ops, { explicit: { 'conv1.fwd': 'nope' } })).rejects.toThrow(
      new RegExp(`conv1\\.fwd.*'nope' is not valid.*valid: ${ids.join(', ').replaceAll('.', '\\.')}`));
    await expect(resolveVariants(ctx, ops, { explicit: { 'conv9.fwd': ids[0]! } })).rejects.toThrow(/no tunable op 'conv9\.fwd' \(tunable ops: conv0\.fwd, /);
    await expect(CpcTrainer.create(ctx, cfg, { variants: { 'gru.fwd': 'tile9x9' } })).rejects.toThrow(/gru\.fwd.*'tile9x9' is not valid.*valid: tile4x8/);
  });

  it('the Node file cache round-trips, merges writers, and ignores a corrupt file with one notice', async () => {
    const dir = join(root, 'filecache');
    const notices: string[] = [];
    const a = new NodeTuneCache({ dir, notice: (m) => notices.push(m) });
    expect(await a.get('k1')).toBeUndefined(); // no file yet: a miss, no notice
    await a.set('k1', entry('x', 'd'));
    // A second writer (another process) keeps the first one's entry.
    const b = new NodeTuneCache({ dir, notice: (m) => notices.push(m) });
    await b.set('k2', entry('y', 'd'));
    const c = new NodeTuneCache({ dir, notice: (m) => notices.push(m) });
    expect(await c.get('k1')).toEqual(entry('x', 'd'));
    expect(await c.get('k2')).toEqual(entry('y', 'd'));
    expect(notices).toEqual([]);
    expect(JSON.parse(await readFile(join(dir, TUNE_CACHE_FILE), 'utf8')).version).toBe(1);

    await writeFile(join(dir, TUNE_CACHE_FILE), '{"version": 1, "entries": {"k1": ');
    const bad = new NodeTuneCache({ dir, notice: (m) => notices.push(m) });
    expect(await bad.get('k1')).toBeUndefined();
    expect(await bad.get('k2')).toBeUndefined();
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/tune\.json: ignored, it is corrupt .*using default kernels/);
    // The trainer on a corrupt cache: defaults, and the notice once.
    const ctx = await testDevice();
    const notices2: string[] = [];
    const t = await CpcTrainer.create(ctx, cfg, { tuneCache: new NodeTuneCache({ dir, notice: (m) => notices2.push(m) }) });
    try {
      expect(t.variantChoices.every((x) => x.source === 'default' && x.variant.id === x.candidates[0])).toBe(true);
      expect(notices2).toHaveLength(1);
    } finally {
      t.dispose();
    }
    // The next write replaces the corrupt file with a valid one.
    await bad.set('k3', entry('z', 'd'));
    expect(await new NodeTuneCache({ dir }).get('k3')).toEqual(entry('z', 'd'));
  });
});

describe('trainer tuning', () => {
  // A subset of the ops (tuneOps) keeps this affordable on a loaded software adapter (each candidate
  // is a pipeline compile); it covers a signal reader (conv0.bwd.weights: two slots), a mid conv
  // layer and both GRU ops.
  const subset = ['conv0.bwd.weights', 'conv3.fwd', 'gru.fwd', 'gru.bwd'];
  it("'measure' times the ops, caches each choice, leaves training bitwise as with those variants chosen explicitly", async () => {
    const ctx = await testDevice();
    const cache = new MemoryTuneCache();
    const seen: string[] = [];
    const tuned = await CpcTrainer.create(ctx, cfg, { tune: 'measure', tuneCache: cache, tuneOps: subset, onTune: (r) => seen.push(r.op) });
    const data = trainData(3);
    let chosen: Record<string, string>;
    let tunedLosses: number[];
    try {
      expect(seen.sort()).toEqual([...subset].sort());
      for (const c of tuned.variantChoices) {
        if (subset.includes(c.op)) expect([c.op, c.source, c.ms! > 0, c.defaultMs! > 0]).toEqual([c.op, 'tuned', true, true]);
        else expect([c.op, c.source]).toEqual([c.op, 'default']);
      }
      expect(cache.entries.size).toBe(subset.length);
      chosen = tuned.variants();
      expect(tuned.stepCount).toBe(0);
      tunedLosses = await losses(tuned, data);
    } finally {
      tuned.dispose();
    }
    // The same choice, explicit: the tuning pass changed no state (parameters, moments, step).
    const explicit = await CpcTrainer.create(ctx, cfg, { variants: chosen });
    // And from the cache ('cached' is the default mode).
    const cached = await CpcTrainer.create(ctx, cfg, { tuneCache: cache });
    try {
      expect(cached.variants()).toEqual(chosen);
      for (const c of cached.variantChoices) expect([c.op, c.source]).toEqual([c.op, subset.includes(c.op) ? 'cache' : 'default']);
      expect(await losses(explicit, data)).toEqual(tunedLosses);
      expect(await losses(cached, data)).toEqual(tunedLosses);
    } finally {
      explicit.dispose();
      cached.dispose();
    }
    await expect(CpcTrainer.create(ctx, cfg, { tune: 'measure', tuneOps: ['conv9.fwd'] })).rejects.toThrow(/no tunable op 'conv9\.fwd'/);
  }, 900_000);
});

describe('cpc-webgpu tune', () => {
  it('writes the cache that train then reports using, and info --preset shows it', async () => {
    const env = { CPC_WEBGPU_CACHE_DIR: join(root, 'clicache') };
    const t = await cli(['tune', '--preset', 'tiny', '--ops', 'gru.fwd,gru.bwd', '--json'], { env });
    expect(t.code, t.stderr).toBe(0);
    const tj = lastJson(t.stdout) as { cache: string; ops: { op: string; variant: string; default: string; source: string; ms: number; candidates: Record<string, number> }[] };
    expect(tj.cache).toBe(join(root, 'clicache', TUNE_CACHE_FILE));
    expect(tj.ops.length).toBeGreaterThan(0);
    for (const o of tj.ops) {
      if (o.op.startsWith('gru.')) {
        expect(o.source, o.op).toBe('tuned');
        expect(o.candidates[o.variant], o.op).toBeGreaterThan(0);
      } else {
        expect([o.op, o.source, o.variant]).toEqual([o.op, 'default', o.default]);
      }
    }
    const file = JSON.parse(await readFile(tj.cache, 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(file.entries)).toHaveLength(2);
    const sources = Object.fromEntries(tj.ops.map((o) => [o.op, o.op.startsWith('gru.') ? 'cache' : 'default']));
    const want = Object.fromEntries(tj.ops.map((o) => [o.op, o.variant]));

    const r = await cli(['train', '--preset', 'tiny', '--steps', '2', '--out', join(root, 'run'), '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const rj = lastJson(r.stdout) as { variants: Record<string, string>; variant_sources: Record<string, string> };
    expect(rj.variants).toEqual(want);
    expect(rj.variant_sources).toEqual(sources);
    expect(r.stderr).toMatch(/kernel variants(: defaults)? \((default\/cache|cache\/default)\)/);

    const i = await cli(['info', '--preset', 'tiny', '--json'], { env });
    expect(i.code, i.stderr).toBe(0);
    const ij = JSON.parse(i.stdout) as { variants: Record<string, { id: string; source: string }> };
    expect(Object.fromEntries(Object.entries(ij.variants).map(([k, v]) => [k, v.id]))).toEqual(want);
    const text = await cli(['info', '--preset', 'tiny'], { env });
    expect(text.stdout).toMatch(/kernel variants[^\n]*\n\s+op\s+variant\s+source/);
    expect(text.stdout).toMatch(/gru\.bwd\s+\S+\s+cache/);
    expect(text.stdout).toMatch(/conv0\.fwd\s+\S+\s+default/);
    // Without a cache entry (another folder): defaults.
    const fresh = await cli(['info', '--preset', 'tiny', '--json'], { env: { CPC_WEBGPU_CACHE_DIR: join(root, 'empty') } });
    const fj = JSON.parse(fresh.stdout) as { variants: Record<string, { id: string; source: string; candidates: string[] }> };
    for (const v of Object.values(fj.variants)) expect([v.source, v.id]).toEqual(['default', v.candidates[0]]);
  }, 900_000);
});
