// End-to-end training-step benchmark, the part that runs anywhere WebGPU does (Node and the browser
// bench page, demo/bench.html): our whole step (one submit, pipelined) per preset, its per-kernel
// share from the profiler and the memory plan. Peers (other frameworks timed on the same model, loss
// and batch) are passed in: they need Node (tfjs on Dawn, PyTorch in a subprocess), so they live in
// bench/e2e.ts and bench/peer/, and this file imports nothing of Node.
import { resolveConfig, type ActivationsDType, type CpcTrainConfig, type PresetName } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { CpcError } from '../src/runtime/errors.ts';
import { median } from '../src/runtime/median.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

/** What a peer sees: the preset, its resolved config and one batch of our data. */
export interface E2ePeerInput {
  b: BenchContext;
  name: PresetName;
  cfg: CpcTrainConfig;
  /** One batch [B·L] of the samples our step trained on. */
  signal: Float32Array;
}

/**
 * What a peer adds to the e2e row: its fields ({} when it has no config for the preset) and, under
 * `ratios`, its ms per step keyed by the row's ratio field (e.g. ratio_vs_peer): the core divides
 * each by our ms, which is only known once the blocks after the peers ran.
 */
export interface E2ePeerResult {
  fields: Record<string, unknown>;
  ratios?: Record<string, number>;
}

/** Times one peer framework. */
export type E2ePeer = (p: E2ePeerInput) => Promise<E2ePeerResult>;

export async function measurePreset(
  b: BenchContext, preset: PresetName, steps: number, peers: readonly E2ePeer[] = [], activations: ActivationsDType = 'f32',
): Promise<BenchResult> {
  const cfg = resolveConfig(preset, { activations });
  const name = activations === 'f16' ? `${preset}.f16` : preset;
  const ds = createSyntheticDataset({ seed: 1, speakers: 4, utterancesPerSpeaker: 3 });
  const sampler = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 1 });
  // The data side of the same run: batches the CPU sampler produces per second at this B and L,
  // against the steps per second the GPU consumes (the train loop draws the next batch while the
  // GPU runs the current step, so headroom > 1 means the GPU never waits on data).
  const tData = performance.now();
  const produced = 50;
  for (let i = 0; i < produced; i++) sampler.next();
  const batchesPerS = produced / ((performance.now() - tData) / 1000);
  const data = Array.from({ length: 4 }, () => sampler.next().signal);
  // Fixed kernels (each op's default variant; no cache): the row the tuned rows compare against.
  const trainer = await CpcTrainer.create(b.ctx, cfg, { metricsEvery: steps, tune: 'off' });
  const variants = trainer.variants();
  let ms: number, profile, plan, cost;
  let share: Record<string, number> = {};
  const blockMs: number[] = [];
  const peerFields: Record<string, unknown> = {};
  const peerMs: Record<string, number> = {};
  try {
    b.log(`e2e.${name}: warm-up (first steps compile pipelines)`);
    for (let i = 0; i < 2; i++) await trainer.trainStep(data[i % data.length]!);
    await trainer.flush();
    // Throughput as a user sees it: steps queued back to back (≤ 2 in flight), then drained; the
    // median of E2E_BLOCKS such blocks, as the peers report the median of their steps — one block
    // (2.4 s of `small`) read 35 % slow in a noisy spell of this shared machine while the peer's
    // 14 s did not (8.4× vs 11.6–12.1× in the runs around it).
    const timeBlocks = async (n: number) => {
      for (let k = 0; k < n; k++) {
        const t0 = performance.now();
        for (let i = 0; i < steps; i++) await trainer.trainStep(data[i % data.length]!);
        await trainer.flush();
        blockMs.push((performance.now() - t0) / steps);
      }
    };
    const blocks = b.quick ? 1 : E2E_BLOCKS;
    await timeBlocks(blocks);
    profile = await trainer.profileStep(data[0]!);
    plan = trainer.plan;
    cost = trainer.stepCost;
    share = shareOf(profile);
    b.log(`e2e.${name}: ${median(blockMs).toFixed(1)} ms/step; kernel share (% of profiled ${profile.totalMs.toFixed(1)} ms, ${profile.source}): ${JSON.stringify(share)}`);
    if (peers.length) {
      for (const peer of peers) {
        const r = await peer({ b, name: preset, cfg, signal: data[0]! });
        Object.assign(peerFields, r.fields);
        Object.assign(peerMs, r.ratios);
      }
      // Our blocks bracket the peers' (as many after as before), so a slow spell of this shared
      // host during either side lands in our median too instead of in the ratio alone: one
      // median-of-3 run read ours 495 ms vs tfjs 4701 (9.5×) while the runs around it read 381–401.
      await timeBlocks(blocks);
    }
    ms = median(blockMs);
  } finally {
    trainer.dispose();
  }
  for (const [key, peer] of Object.entries(peerMs)) {
    peerFields[key] = Math.round((peer / ms) * 100) / 100;
    b.log(`e2e.${name}: ${key} ${(peer / ms).toFixed(2)} (peer ${peer.toFixed(1)} ms / ours ${ms.toFixed(1)} ms, median of ${blockMs.length} blocks)`);
  }
  return makeResult({
    name: `e2e.${name}`,
    shape: { B: cfg.batchSize, L: cfg.window, C: cfg.channels, H: cfg.hidden, K: cfg.predictionSteps, negatives: cfg.negatives.kind, activations: cfg.activations },
    ms, flops: cost.flops, peak: b.peak,
    steps_per_s: Math.round((1000 / ms) * 1000) / 1000,
    block_ms: blockMs.map((v) => Math.round(v * 10) / 10),
    samples_per_s: Math.round((1000 * cfg.batchSize / ms) * 100) / 100,
    data_batches_per_s: Math.round(batchesPerS),
    data_headroom: Math.round(batchesPerS * ms / 1000),
    planned_peak_bytes: plan.plannedPeakBytes,
    noreuse_bytes: plan.noReuseBytes,
    planned_vs_noreuse: Math.round((1000 * plan.plannedPeakBytes) / plan.noReuseBytes) / 1000,
    kernel_share_pct: share,
    profile_source: profile.source,
    variants,
    ...peerFields,
  });
}

/** Each op's share of one profiled step, in % to one decimal. */
function shareOf(profile: { ops: readonly { name: string; ms: number }[]; totalMs: number }): Record<string, number> {
  const share: Record<string, number> = {};
  for (const op of profile.ops) share[op.name] = Math.round((1000 * op.ms) / profile.totalMs) / 10;
  return share;
}

/** Blocks of timed steps per preset (full runs; quick runs time one). */
const E2E_BLOCKS = 3;

/** Timed steps per block and preset, [quick, full]: enough for a stable mean at each preset's step time. */
const PRESET_STEPS: Record<PresetName, [number, number]> = { tiny: [3, 10], small: [3, 6], medium: [2, 3], paper: [2, 2] };

/** The e2e suite with these peers (none in the browser); peers never run on the paper preset (too slow). */
export function e2eSuiteWith(peers: readonly E2ePeer[]): BenchSuite {
  return {
    name: 'e2e',
    async run(b) {
      const rows: BenchResult[] = [];
      const presets = b.presets ?? ['tiny', 'small', ...(b.paper ? ['paper'] : [])];
      for (const name of presets) {
        if (!Object.hasOwn(PRESET_STEPS, name)) throw new CpcError('bench', `e2e: unknown preset '${name}' (known: ${Object.keys(PRESET_STEPS).join(', ')})`);
        const [quickSteps, fullSteps] = PRESET_STEPS[name as PresetName];
        rows.push(await measurePreset(b, name as PresetName, b.quick ? quickSteps : fullSteps, name === 'paper' ? [] : peers));
        // f16 activation storage where the device has shader-f16 (README "f16 activations"), no peers.
        if (name === 'small' && b.ctx.has('shader-f16')) rows.push(await measurePreset(b, 'small', b.quick ? quickSteps : fullSteps, [], 'f16'));
      }
      return rows;
    },
  };
}
