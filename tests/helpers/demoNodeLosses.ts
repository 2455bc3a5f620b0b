// Node side of the demo's browser-vs-Node identity check: trains a preset for a few steps with the
// demo's own data path (demo/data.ts: same dataset, same seeded sampler) and prints one JSON line
// {"adapter", "features", "losses", "lossPerK", "accPerK", "gradNorm"} on stdout. Run in its own process (the Vulkan ICD,
// e.g. SwiftShader through VK_ICD_FILENAMES, is chosen when Dawn initialises):
//   node tests/helpers/demoNodeLosses.mjs '{"preset":"tiny","overrides":{},"steps":3}'
import { acquireNodeDevice } from '../../src/node/device.ts';
import { resolveConfig, type ConfigOverrides, type PresetName } from '../../src/cpc/config.ts';
import { CpcTrainer } from '../../src/cpc/trainer.ts';
import { syntheticDataset, trainSampler } from '../../demo/data.ts';

export interface DemoNodeLossesArgs { preset: PresetName; overrides?: ConfigOverrides; steps: number }

export async function demoNodeLosses(args: DemoNodeLossesArgs): Promise<{ adapter: string; features: string[]; losses: number[]; lossPerK: number[][]; accPerK: number[][]; gradNorm: number[] }> {
  const config = resolveConfig(args.preset, args.overrides ?? {});
  const ctx = await acquireNodeDevice({ label: 'demo-node-losses' });
  try {
    const trainer = await CpcTrainer.create(ctx, config, { metricsEvery: 1 });
    const sampler = trainSampler(syntheticDataset(), config);
    for (let i = 0; i < args.steps; i++) await trainer.trainStep(sampler.next().signal);
    const rows = await trainer.flush();
    trainer.dispose();
    const a = ctx.adapter;
    return { adapter: `${a.vendor} ${a.architecture} ${a.description}`.trim(), features: [...ctx.features].sort(), losses: rows.map((r) => r.loss), lossPerK: rows.map((r) => r.lossPerK), accPerK: rows.map((r) => r.accPerK), gradNorm: rows.map((r) => r.gradNorm) };
  } finally {
    ctx.dispose();
  }
}
