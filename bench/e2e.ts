// End-to-end training-step benchmark (`cpc-webgpu bench --e2e`): our whole step (one submit,
// pipelined) per preset, its per-kernel share from the profiler, the memory plan, and — in the
// same run on the same adapter — the same model and loss trained with tfjs-backend-webgpu, and (where
// Debian's python3-torch is installed) with PyTorch on the CPU (interop/pytorch, same init and batch).
import { resolveConfig, type PresetName } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { tunedSuite } from './tuned.ts';
import { PEER_CONFIGS, timePeerSteps } from './peer/tfjsCpc.ts';
import { timeTorchPeer, torchPeerMissing } from './peer/torchCpc.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

export async function measurePreset(b: BenchContext, name: PresetName, steps: number, withPeer: boolean): Promise<BenchResult> {
  const cfg = resolveConfig(name);
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
  try {
    b.log(`e2e.${name}: warm-up (first steps compile pipelines)`);
    for (let i = 0; i < 2; i++) await trainer.trainStep(data[i % data.length]!);
    await trainer.flush();
    // Throughput as a user sees it: steps queued back to back (≤ 2 in flight), then drained.
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.trainStep(data[i % data.length]!);
    await trainer.flush();
    ms = (performance.now() - t0) / steps;
    profile = await trainer.profileStep(data[0]!);
    plan = trainer.plan;
    cost = trainer.stepCost;
  } finally {
    trainer.dispose();
  }
  const share: Record<string, number> = {};
  for (const op of profile.ops) share[op.name] = Math.round((1000 * op.ms) / profile.totalMs) / 10;
  b.log(`e2e.${name}: ${ms.toFixed(1)} ms/step; kernel share (% of profiled ${profile.totalMs.toFixed(1)} ms, ${profile.source}): ${JSON.stringify(share)}`);
  let peer: { peer: string; peer_ms: number; ratio_vs_peer: number } | Record<string, never> = {};
  const peerCfg = (PEER_CONFIGS as Record<string, (typeof PEER_CONFIGS)['tiny']>)[name];
  if (withPeer && peerCfg) {
    b.log(`e2e.${name}: peer tfjs-backend-webgpu`);
    const p = await timePeerSteps(peerCfg, { warmup: 1, steps: b.quick ? 2 : 3 });
    peer = { peer: 'tfjs-backend-webgpu@4.22.0', peer_ms: Math.round(p.msPerStep * 10) / 10, ratio_vs_peer: Math.round((p.msPerStep / ms) * 100) / 100 };
    b.log(`e2e.${name}: peer ${p.msPerStep.toFixed(1)} ms/step → ours is ${(p.msPerStep / ms).toFixed(2)}× faster`);
  }
  let torchPeer: { peer_torch: string; peer_torch_ms: number; ratio_vs_torch: number } | { peer_torch_missing: string } | Record<string, never> = {};
  if (withPeer) {
    const missing = torchPeerMissing();
    if (missing) {
      torchPeer = { peer_torch_missing: missing };
      b.log(`e2e.${name}: no PyTorch peer: ${missing}`);
    } else {
      b.log(`e2e.${name}: peer PyTorch CPU`);
      const t = await timeTorchPeer(cfg, data[0]!, { warmup: 1, steps: b.quick ? 2 : 3 });
      torchPeer = { peer_torch: t.name, peer_torch_ms: Math.round(t.msPerStep * 10) / 10, ratio_vs_torch: Math.round((t.msPerStep / ms) * 100) / 100 };
      b.log(`e2e.${name}: ${t.name} ${t.msPerStep.toFixed(1)} ms/step → ratio torch/ours ${(t.msPerStep / ms).toFixed(2)}`);
    }
  }
  return makeResult({
    name: `e2e.${name}`,
    shape: { B: cfg.batchSize, L: cfg.window, C: cfg.channels, H: cfg.hidden, K: cfg.predictionSteps, negatives: cfg.negatives.kind },
    ms, flops: cost.flops, peak: b.peak,
    steps_per_s: Math.round((1000 / ms) * 1000) / 1000,
    samples_per_s: Math.round((1000 * cfg.batchSize / ms) * 100) / 100,
    data_batches_per_s: Math.round(batchesPerS),
    data_headroom: Math.round(batchesPerS * ms / 1000),
    planned_peak_bytes: plan.plannedPeakBytes,
    noreuse_bytes: plan.noReuseBytes,
    planned_vs_noreuse: Math.round((1000 * plan.plannedPeakBytes) / plan.noReuseBytes) / 1000,
    kernel_share_pct: share,
    profile_source: profile.source,
    variants,
    ...peer,
    ...torchPeer,
  });
}

export const e2eSuite: BenchSuite = {
  name: 'e2e',
  async run(b) {
    const rows: BenchResult[] = [];
    rows.push(await measurePreset(b, 'tiny', b.quick ? 3 : 10, true));
    rows.push(await measurePreset(b, 'small', b.quick ? 3 : 6, true));
    rows.push(...await tunedSuite.run(b));
    if (b.paper) rows.push(await measurePreset(b, 'paper', 2, false));
    return rows;
  },
};
