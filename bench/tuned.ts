// Tuned vs fixed kernels, end to end (`bench --only tuned`, and part of `bench --e2e`): no peers, so
// it runs without the optional tfjs packages.
import { resolveConfig, type PresetName } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer, type TrainerOptions } from '../src/cpc/trainer.ts';
import { formatVerdict, MemoryTuneCache, stepGuardRule } from '../src/runtime/tuner.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

/**
 * `e2e.<preset>.tuned`: the step with the variants the tuner picks now on this adapter ('measure',
 * in-memory cache, step guard included) against the fixed kernels, in the same run, interleaved:
 * both trainers warm up, then `blocks` blocks of `steps` steps each, the order mirrored every other
 * block; ms = median block time per step. The row carries fixed_ms, ratio_vs_fixed (= fixed_ms / ms)
 * and its paired 95 % interval: block k's fixed / tuned ratio is one paired observation, summarised
 * by the step guard's own rule (stepGuardRule: geometric mean, percentile bootstrap over the blocks,
 * sign test), plus the per-op picks, the guard's verdict on them and the variants finally used.
 */
export async function measureTuned(
  b: BenchContext, name: PresetName, steps: number, blocks: number,
  /** Experiments only: more options for the tuned trainer (e.g. a tunePick that bypasses the per-op rule, to see the step guard judge it). */
  tunedOptions: Pick<TrainerOptions, 'tunePick' | 'tuneOps'> = {},
): Promise<BenchResult> {
  const cfg = resolveConfig(name);
  const ds = createSyntheticDataset({ seed: 1, speakers: 4, utterancesPerSpeaker: 3 });
  const sampler = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 1 });
  const data = Array.from({ length: 4 }, () => sampler.next().signal);
  // The fixed trainer is created first, so creation order (arena placement) cannot favour the tuned
  // one. On the loaded 2-core machine, runs where every chosen variant was the default still gave
  // ratios of 0.79–1.16: compare ratios only when the block times agree.
  const fixed = await CpcTrainer.create(b.ctx, cfg, { metricsEvery: steps, tune: 'off' });
  b.log(`e2e.${name}.tuned: tuning`);
  const t0 = performance.now();
  const tuned = await CpcTrainer.create(b.ctx, cfg, {
    ...tunedOptions, metricsEvery: steps, tune: 'measure', tuneCache: new MemoryTuneCache(),
    onTune: (r, done, total) => b.log(`  [${done}/${total}] ${r.op}: ${r.chosen} ${r.ms.toFixed(3)} ms vs default ${r.defaultMs.toFixed(3)} ms; ` +
      r.timings.map((t) => `${t.id}:${t.ms.toFixed(2)}${t.samples.length ? `±${(100 * t.noise).toFixed(0)}%` : ' (pruned)'}`).join(' ')),
  });
  const tuneS = (performance.now() - t0) / 1000;
  const times = { tuned: [] as number[], fixed: [] as number[] };
  try {
    for (const t of [tuned, fixed]) {
      for (let i = 0; i < 2; i++) await t.trainStep(data[i % data.length]!);
      await t.flush();
    }
    for (let k = 0; k < blocks; k++) {
      // Alternate which goes first, so a drift in machine load hits both alike.
      const order: ('tuned' | 'fixed')[] = k % 2 ? ['fixed', 'tuned'] : ['tuned', 'fixed'];
      for (const which of order) {
        const t = which === 'tuned' ? tuned : fixed;
        const s0 = performance.now();
        for (let i = 0; i < steps; i++) await t.trainStep(data[i % data.length]!);
        await t.flush();
        times[which].push((performance.now() - s0) / steps);
      }
    }
  } finally {
    tuned.dispose();
    fixed.dispose();
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  const ms = med(times.tuned), fixedMs = med(times.fixed);
  const chosen = tuned.variantChoices.filter((c) => c.variant.id !== c.candidates[0]).map((c) => `${c.op}=${c.variant.id}`);
  const verdict = tuned.tuneVerdict;
  const paired = stepGuardRule(times.tuned.map((t, k) => ({ tuned: [t], fixed: [times.fixed[k]!] })));
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  b.log(`e2e.${name}.tuned: tuned in ${tuneS.toFixed(1)} s; ${formatVerdict(verdict)}`);
  b.log(`e2e.${name}.tuned: ${ms.toFixed(1)} ms/step vs fixed ${fixedMs.toFixed(1)} ms/step, ratio ${paired.speedup.toFixed(3)} ` +
    `[95 % ${paired.lo.toFixed(3)}, ${paired.hi.toFixed(3)}] over ${paired.rounds} paired blocks (tuned faster in ${paired.wins}); ` +
    `non-default in use: ${chosen.join(' ') || 'none'}`);
  return makeResult({
    name: `e2e.${name}.tuned`,
    shape: { B: cfg.batchSize, L: cfg.window, C: cfg.channels, H: cfg.hidden, K: cfg.predictionSteps, negatives: cfg.negatives.kind },
    ms, peak: b.peak,
    baseline: `e2e.${name} (fixed kernels, same run)`, baselineMs: fixedMs,
    fixed_ms: Math.round(fixedMs * 100) / 100,
    ratio_vs_fixed: r3(fixedMs / ms),
    // Paired over blocks (geometric mean of fixed / tuned per block) with its 95 % bootstrap interval.
    paired_ratio: r3(paired.speedup),
    paired_ratio_ci95: [r3(paired.lo), r3(paired.hi)],
    paired_tuned_faster: `${paired.wins}/${paired.rounds}`,
    per_op_picks: verdict ? verdict.picks : {},
    step_guard: verdict
      ? { kept: verdict.kept, tuned_ms: r3(verdict.tunedMs), default_ms: r3(verdict.defaultMs), speedup: r3(verdict.speedup),
          ci95: [r3(verdict.lo), r3(verdict.hi)], wins: verdict.wins, rounds: verdict.rounds, p: r3(verdict.p), guard_s: r3(verdict.guardMs / 1000) }
      : null,
    tune_s: Math.round(tuneS * 10) / 10,
    block_ms: { tuned: times.tuned.map((x) => Math.round(x * 10) / 10), fixed: times.fixed.map((x) => Math.round(x * 10) / 10) },
    variants: tuned.variants(),
    // Per op, each candidate's median ms alone (a pruned one: its warm-up): which variant wins where.
    op_timings: Object.fromEntries(tuned.variantChoices.map((c) => [c.op, Object.fromEntries((c.timings ?? []).map((t) => [t.id, Math.round(t.ms * 1000) / 1000]))])),
    variants_non_default: chosen,
  });
}

/** `bench --only tuned`: just the tuned-vs-fixed rows (no peers). */
export const tunedSuite: BenchSuite = {
  name: 'tuned',
  async run(b) {
    // --quick: tiny only (tuning `small` on a software adapter takes minutes).
    // --presets (the e2e suite's) chooses which; paper is never tuned here (minutes per op).
    const wanted = (b.presets ?? ['tiny', 'small']).filter((p) => p === 'tiny' || p === 'small');
    const rows: BenchResult[] = [];
    // Enough blocks for a paired interval (10 pairs; 6 with --quick), short ones so they stay cheap.
    if (wanted.includes('tiny')) rows.push(await measureTuned(b, 'tiny', b.quick ? 3 : 5, b.quick ? 6 : 10));
    if (!b.quick && wanted.includes('small')) rows.push(await measureTuned(b, 'small', 3, 8));
    return rows;
  },
};

