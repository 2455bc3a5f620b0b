// The trainer with forced non-default kernel variants, on lavapipe and on SwiftShader (files named
// *Variants.test.ts run on both): the whole model's loss and gradients stay within the model-level
// oracle bounds (tests/helpers/modelBounds.ts), and one choice trains bitwise identically twice.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/cpc/config.ts';
import { buildCpcGraph, graphTunables } from '../src/cpc/graph.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { cpcInitParams, cpcLossAndGrads, randomArray } from './reference/index.ts';
import { testDevice } from './helpers/gpu.ts';
import { oracleConfig } from './helpers/oracleConfig.ts';
import { expectModelGradsClose } from './helpers/modelBounds.ts';

// tiny with norm off, as trainer.test.ts's first oracle check (its pipelines are the cheapest).
const cfg = resolveConfig('tiny', { norm: false });

describe('trainer with non-default kernel variants', () => {
  it('every tunable op on its last candidate: loss and gradients within the oracle bounds, training bitwise repeatable', async () => {
    const ctx = await testDevice();
    const tunables = graphTunables(buildCpcGraph(cfg), ctx);
    // The list's last entry is the one furthest from the default (other lane sharing, largest
    // workgroup, other GRU tile) on both adapters.
    const forced = Object.fromEntries(tunables.map((t) => [t.name, t.variants[t.variants.length - 1]!.id]));
    for (const t of tunables) expect(forced[t.name], t.name).not.toBe(t.variants[0]!.id);
    const seed = 11;
    const p64 = cpcInitParams(oracleConfig(cfg, 1), seed);
    const params = new Map([...p64].map(([k, v]) => [k, Float32Array.from(v)]));
    const signal = Float32Array.from(randomArray(cfg.batchSize * cfg.window, seed + 7, 0.5));
    const ref = cpcLossAndGrads(Float64Array.from(signal), new Map([...params].map(([k, v]) => [k, Float64Array.from(v)])), oracleConfig(cfg, 1));
    const a = await CpcTrainer.create(ctx, cfg, { params, variants: forced });
    const b = await CpcTrainer.create(ctx, cfg, { params, variants: forced });
    try {
      expect(a.variants()).toEqual(forced);
      expect(a.variantChoices.every((c) => c.source === 'explicit')).toBe(true);
      expectModelGradsClose(await a.lossAndGrads(signal), ref, 'non-default variants vs oracle');
      const ds = createSyntheticDataset({ seed: 3, speakers: 4, utterancesPerSpeaker: 4 });
      const s = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 3 });
      const data = Array.from({ length: 3 }, () => s.next().signal);
      const losses = async (t: CpcTrainer) => {
        for (const x of data) await t.trainStep(x);
        return (await t.flush()).map((m) => m.loss);
      };
      const la = await losses(a);
      expect(la.every(Number.isFinite)).toBe(true);
      expect(await losses(b)).toEqual(la);
    } finally {
      a.dispose();
      b.dispose();
    }
  }, 300_000);
});
