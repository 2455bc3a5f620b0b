// The memory plan of the CPC step, for every preset and the option variants: pure CPU (no device),
// so even `paper` is planned here. The GPU side of the plan (tensors bound at these offsets really
// produce oracle gradients) is tests/trainer.test.ts.
import { describe, expect, it } from 'vitest';
import { PRESET_NAMES, resolveConfig, type CpcTrainConfig } from '../src/cpc/config.ts';
import { buildCpcGraph } from '../src/cpc/graph.ts';
import { paramLayout } from '../src/cpc/params.ts';
import { findPlanConflicts, planMemory } from '../src/runtime/planner.ts';

const variants: [string, CpcTrainConfig][] = [
  ...PRESET_NAMES.map((p) => [p, resolveConfig(p)] as [string, CpcTrainConfig]),
  ['tiny+norm+bias+sampled', resolveConfig('tiny', { norm: true, predictorBias: true, negatives: { kind: 'sampled', n: 128 } })],
  ['small+batch-time', resolveConfig('small', { negatives: { kind: 'batch-time' } })],
];

describe('CPC step memory plan', () => {
  for (const [name, cfg] of variants) {
    it(`${name}: no two simultaneously live tensors overlap, and reuse beats no-reuse`, () => {
      const g = buildCpcGraph(cfg);
      const plan = planMemory(g.tensors, g.ops);
      expect(findPlanConflicts(plan)).toEqual([]);
      // Independent re-check of the invariant, byte by byte at each op, rather than trusting findPlanConflicts alone.
      for (let i = 0; i < g.ops.length; i++) {
        const live = plan.tensors.filter((t) => t.lifetime === 'transient' && t.firstOp <= i && i <= t.lastOp).sort((a, b) => a.offset - b.offset);
        for (let j = 1; j < live.length; j++) {
          expect(live[j]!.offset, `${live[j - 1]!.name} and ${live[j]!.name} overlap at op ${g.ops[i]!.name}`).toBeGreaterThanOrEqual(live[j - 1]!.offset + live[j - 1]!.bytes);
        }
        for (const t of live) expect(t.offset + t.bytes).toBeLessThanOrEqual(plan.transientBytes);
      }
      for (const t of plan.tensors) {
        expect(t.offset % 256, `${t.name} offset alignment`).toBe(0);
        if (t.lifetime === 'transient') expect(t.firstOp, `${t.name} is declared but no op touches it`).toBeGreaterThanOrEqual(0);
      }
      // Saved activations must survive from their forward op to their backward op.
      const byName = new Map(plan.tensors.map((t) => [t.name, t]));
      const opIndex = (n: string) => g.ops.findIndex((o) => o.name === n);
      expect(byName.get(g.z)!.lastOp).toBeGreaterThanOrEqual(opIndex('gru.bwd'));
      expect(byName.get('gru.saved')!.lastOp).toBe(opIndex('gru.bwd'));
      // The target: planned peak ≤ 60% of the no-reuse total.
      expect(plan.plannedPeakBytes / plan.noReuseBytes).toBeLessThanOrEqual(0.6);
    });
  }

  it('packs parameters in 256-byte-aligned groups that cover every parameter exactly once', () => {
    for (const [, cfg] of variants) {
      const layout = paramLayout(cfg);
      const covered = new Uint8Array(layout.total);
      for (const e of layout.entries) {
        for (let i = e.offset; i < e.offset + e.size; i++) covered[i]! += 1;
      }
      expect(covered.reduce((m, c) => Math.max(m, c), 0)).toBe(1);
      expect(layout.entries.reduce((n, e) => n + e.size, 0)).toBe(covered.reduce((n, c) => n + c, 0));
      for (const g of layout.groups.values()) expect((g.offset * 4) % 256).toBe(0);
      const pw = layout.groups.get('predictors.weight')!;
      expect(pw.shape).toEqual([cfg.predictionSteps, cfg.channels, cfg.hidden]);
      expect(pw.size).toBe(cfg.predictionSteps * cfg.channels * cfg.hidden);
    }
  });
});
