// The tuner's timing paths and its step guard on a real device: the wall-clock fallback of the
// VariantTimer / Profiler (forced on a device that has timestamp-query), timeStepGuard on two arms
// of known, very different work, and the trainer's guard end to end (a forced slow pick is reverted,
// training is then bitwise the fixed kernels', and the verdict reaches the cache and 'cached').
// No assertion here is about speed except where the work differs 4× or a revert is the outcome
// noise gives anyway; timings are checked for being finite, positive and one per candidate.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/cpc/config.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import type { PreparedOp } from '../src/runtime/kernel.ts';
import { Profiler } from '../src/runtime/profiler.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import {
  MAX_GUARD_ROUNDS, MemoryTuneCache, MIN_GUARD_ROUNDS, stepGuardRule, timeStepGuard, tuneOp, VariantTimer, type OpTuneResult,
} from '../src/runtime/tuner.ts';
import { conv1dForwardScratch, conv1dVariants, prepareConv1dForward, type Conv1dDims } from '../src/shaders/conv1d.ts';
import { allocSpecs } from './helpers/convData.ts';
import { testDevice } from './helpers/gpu.ts';

// One conv layer, large enough that a run is well above the timer's resolution, small enough to
// compile every candidate quickly; no norm (fewer tensors).
const D: Conv1dDims = { layer: 1, B: 2, Cin: 32, Tin: 402, Cout: 32, K: 4, stride: 2, norm: false, Tout: 200 };

async function convOp(ctx: Awaited<ReturnType<typeof testDevice>>) {
  const t = (shape: number[], label: string) => createTensor(ctx, shape, 'f32', label);
  const tensors = {
    x: t([D.B, D.Tin, D.Cin], 'x'), weight: t([D.Cout, D.Cin, D.K], 'w'), bias: t([D.Cout], 'b'), y: t([D.B, D.Tout, D.Cout], 'y'),
    scratch: allocSpecs(ctx, conv1dForwardScratch(D), 's') as { wT: ReturnType<typeof t> },
  };
  const variants = conv1dVariants(ctx, D, 'forward');
  return { variants, prepare: (v: (typeof variants)[number]) => prepareConv1dForward(ctx, D, tensors, v.options) };
}

const times = (op: PreparedOp, n: number, name: string): PreparedOp => ({ ...op, name, encode: (pass) => { for (let i = 0; i < n; i++) op.encode(pass); } });

describe('tuner timing paths', () => {
  it('forceWallClock: the fallback is taken on a device with timestamp-query; one finite positive timing per candidate', async () => {
    const ctx = await testDevice();
    // Both software adapters have timestamp-query, so the wall clock below is the forced path, not the only one.
    expect(ctx.has('timestamp-query')).toBe(true);
    const { variants, prepare } = await convOp(ctx);
    expect(variants.length).toBeGreaterThan(1);
    const wall = new VariantTimer(ctx, { forceWallClock: true });
    expect(wall.source).toBe('wall-clock');
    const rounds = 3;
    const r = await tuneOp(ctx, { name: 'conv.fwd', variants, prepare }, wall, { rounds });
    expect(r.source).toBe('wall-clock');
    // Every sample came from the wall clock: 2 warm-ups per candidate, then `rounds` per timed one.
    const timed = r.timings.filter((t) => t.samples.length > 0).length;
    expect(wall.samplesBy).toEqual({ 'timestamp-query': 0, 'wall-clock': 2 * variants.length + rounds * timed });
    expect(r.timings.map((t) => t.id)).toEqual(variants.map((v) => v.id));
    expect(r.timings[0]!.samples).toHaveLength(rounds); // the default is never pruned
    for (const t of r.timings) {
      expect(Number.isFinite(t.ms) && t.ms > 0, `${t.id}: ${t.ms}`).toBe(true);
      expect([0, rounds]).toContain(t.samples.length);
      for (const x of t.samples) expect(Number.isFinite(x) && x > 0, `${t.id} sample ${x}`).toBe(true);
    }
    // The Profiler itself, forced: source and per-op wall times.
    const p = await new Profiler(ctx, 2, { forceWallClock: true }).profile([r.prepared, r.defaultPrepared]);
    expect(p.source).toBe('wall-clock');
    expect(p.ops.map((o) => o.ms > 0 && Number.isFinite(o.ms))).toEqual([true, true]);
    // Not forced: the same device times through timestamp-query.
    const ts = new VariantTimer(ctx);
    expect(ts.source).toBe('timestamp-query');
    expect(Number.isFinite(await ts.time(r.prepared, 2))).toBe(true);
    expect(ts.samplesBy).toEqual({ 'timestamp-query': 1, 'wall-clock': 0 });
  });

  it('timeStepGuard: ABBA rounds within the bound, either timer; 8× vs 32× the same work is kept one way and reverted the other', async () => {
    const ctx = await testDevice();
    const { variants, prepare } = await convOp(ctx);
    const op = await prepare(variants[0]!);
    // 8 runs (≈ 3 ms on lavapipe) against 32 of the same op: a 4× difference in work, far beyond
    // the load noise of GPU-timed passes. The wall clock on the loaded 2-core machine measured
    // 0.4–29 ms for one 0.4 ms run (queue and scheduling delays), so there only the revert — the
    // outcome noise gives anyway — is asserted, and the structure.
    const less = times(op, 8, 'less'), more = times(op, 32, 'more');
    for (const forceWallClock of [false, true]) {
      const timer = new VariantTimer(ctx, { forceWallClock });
      // tuneMs 0: the guard's share of nothing, so the minimum number of rounds.
      const a = await timeStepGuard(timer, less, more, { tuneMs: 0 });
      expect(a.rounds).toHaveLength(MIN_GUARD_ROUNDS);
      for (const r of a.rounds) expect([r.tuned.length, r.fixed.length]).toEqual([2, 2]);
      for (const x of a.rounds.flatMap((r) => [...r.tuned, ...r.fixed])) expect(Number.isFinite(x) && x >= 0).toBe(true);
      expect(timer.samplesBy[timer.source]).toBe(2 + 4 * MIN_GUARD_ROUNDS); // warm-up of each arm + 4 per round
      expect(a.guardMs).toBeGreaterThan(0);
      if (!forceWallClock) expect(stepGuardRule(a.rounds).kept, `${timer.source} ${JSON.stringify(a.rounds)}`).toBe(true);
      const b = await timeStepGuard(timer, more, less, { tuneMs: 0, rounds: 6 });
      expect(b.rounds).toHaveLength(6);
      expect(stepGuardRule(b.rounds).kept, `${timer.source} ${JSON.stringify(b.rounds)}`).toBe(false);
    }
  });
});

describe('trainer step guard', () => {
  const cfg = resolveConfig('tiny', { norm: false });
  it('a forced slow pick is reverted: variants and losses are the fixed kernels\', the verdict is in the cache and read back by cached', async () => {
    const ctx = await testDevice();
    const cache = new MemoryTuneCache();
    const op = 'conv1.fwd';
    let tuned: OpTuneResult | null = null;
    // The per-op rule replaced by "the slowest candidate in isolation" (never the default when any
    // other candidate is slower): what the guard exists to catch.
    const t = await CpcTrainer.create(ctx, cfg, {
      tune: 'measure', tuneCache: cache, tuneOps: [op], metricsEvery: 1,
      tunePick: (_, timings) => timings.reduce((a, b) => (b.ms > a.ms ? b : a)).id,
      onTune: (r) => { tuned = r; },
    });
    const fixed = await CpcTrainer.create(ctx, cfg, { tune: 'off', metricsEvery: 1 });
    const ds = createSyntheticDataset({ seed: 3, speakers: 4, utterancesPerSpeaker: 4 });
    const s = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 3 });
    const data = Array.from({ length: 3 }, () => s.next().signal);
    const losses = async (tr: CpcTrainer) => { for (const x of data) await tr.trainStep(x); return (await tr.flush()).map((m) => m.loss); };
    try {
      const r = tuned as OpTuneResult | null;
      expect(r).not.toBeNull();
      expect(r!.chosen).not.toBe(r!.defaultId);
      const v = t.tuneVerdict!;
      expect(v).not.toBeNull();
      expect(v.picks).toEqual({ [op]: r!.chosen });
      expect(v.kept, JSON.stringify(v)).toBe(false);
      expect(v.rounds).toBeGreaterThanOrEqual(MIN_GUARD_ROUNDS);
      expect(v.rounds).toBeLessThanOrEqual(MAX_GUARD_ROUNDS);
      expect(v.tunedMs > 0 && v.defaultMs > 0 && v.guardMs > 0).toBe(true);
      expect(v.lo).toBeLessThanOrEqual(v.speedup);
      expect(v.hi).toBeGreaterThanOrEqual(v.speedup);
      expect(t.variants()).toEqual(fixed.variants());
      const c = t.variantChoices.find((x) => x.op === op)!;
      expect([c.source, c.variant.id, c.step]).toEqual(['tuned', r!.defaultId, v]);
      const e = [...cache.entries.values()];
      expect(e).toHaveLength(1);
      expect([e[0]!.id, e[0]!.defaultId, e[0]!.step]).toEqual([r!.defaultId, r!.defaultId, v]);
      // Reverted means the fixed kernels on both signal slots: bitwise the same losses.
      expect(await losses(t)).toEqual(await losses(fixed));
    } finally {
      t.dispose();
      fixed.dispose();
    }
    const cached = await CpcTrainer.create(ctx, cfg, { tuneCache: cache });
    try {
      expect(cached.tuneVerdict).toEqual(t.tuneVerdict);
      expect(cached.variantChoices.find((x) => x.op === op)!.source).toBe('cache');
      expect(cached.variants()[op]).toBe((tuned as OpTuneResult | null)!.defaultId);
    } finally {
      cached.dispose();
    }
    // With the per-op rule and nothing clearly faster, no guard runs and no verdict is claimed.
    const none = await CpcTrainer.create(ctx, cfg, { tune: 'measure', tuneOps: [op], tunePick: (_, timings) => timings[0]!.id });
    try {
      expect(none.tuneVerdict).toBeNull();
    } finally {
      none.dispose();
    }
  }, 900_000);
});
