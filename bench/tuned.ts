// Tuned vs fixed kernels, end to end (`bench --only tuned`, and part of `bench --e2e`): no peers, so
// it runs without the optional tfjs packages.
import { resolveConfig, type PresetName } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { MemoryTuneCache } from '../src/runtime/tuner.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

/**
 * `e2e.<preset>.tuned`: the step with the variants the tuner picks now on this adapter ('measure',
 * in-memory cache) against the fixed kernels, in the same run, interleaved: both trainers warm up,
 * then `blocks` alternating blocks of `steps` steps each; ms = median block time per step. The row
 * carries the chosen variants, the tuning time and fixed_ms / ratio_vs_fixed (= fixed_ms / ms).
 */
export async function measureTuned(b: BenchContext, name: PresetName, steps: number, blocks: number): Promise<BenchResult> {
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
    metricsEvery: steps, tune: 'measure', tuneCache: new MemoryTuneCache(),
    onTune: (r, done, total) => b.log(`  [${done}/${total}] ${r.op}: ${r.chosen} ${r.ms.toFixed(3)} ms vs default ${r.defaultMs.toFixed(3)} ms`),
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
  b.log(`e2e.${name}.tuned: tuned in ${tuneS.toFixed(1)} s; ${ms.toFixed(1)} ms/step vs fixed ${fixedMs.toFixed(1)} ms/step ` +
    `(ratio ${(fixedMs / ms).toFixed(3)}); non-default: ${chosen.join(' ') || 'none'}`);
  return makeResult({
    name: `e2e.${name}.tuned`,
    shape: { B: cfg.batchSize, L: cfg.window, C: cfg.channels, H: cfg.hidden, K: cfg.predictionSteps, negatives: cfg.negatives.kind },
    ms, peak: b.peak,
    baseline: `e2e.${name} (fixed kernels, same run)`, baselineMs: fixedMs,
    fixed_ms: Math.round(fixedMs * 100) / 100,
    ratio_vs_fixed: Math.round((fixedMs / ms) * 1000) / 1000,
    tune_s: Math.round(tuneS * 10) / 10,
    block_ms: { tuned: times.tuned.map((x) => Math.round(x * 10) / 10), fixed: times.fixed.map((x) => Math.round(x * 10) / 10) },
    variants: tuned.variants(),
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
    if (wanted.includes('tiny')) rows.push(await measureTuned(b, 'tiny', b.quick ? 3 : 10, b.quick ? 3 : 5));
    if (!b.quick && wanted.includes('small')) rows.push(await measureTuned(b, 'small', 4, 5));
    return rows;
  },
};

