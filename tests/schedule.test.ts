import { describe, expect, it } from 'vitest';
import { learningRate, type LrScheduleConfig } from '../src/cpc/schedule.ts';
import { lrSchedule } from './reference/index.ts';

// learningRate performs the oracle's float64 operations in the oracle's order, so the two must be
// equal bit for bit (toBe), not merely close: any difference means a different formula.
describe('learningRate (warm-up + cosine) vs the oracle lrSchedule', () => {
  const configs: LrScheduleConfig[] = [
    { lr: 2e-4, warmupSteps: 100, totalSteps: 1000 },
    { lr: 2e-4, warmupSteps: 100, totalSteps: 1000, minLr: 1e-5 },
    { lr: 1e-3, warmupSteps: 0, totalSteps: 500, minLr: 1e-4 }, // no warm-up
    { lr: 1e-3, warmupSteps: 50, totalSteps: 50 }, // no decay phase
    { lr: 1e-3, warmupSteps: 50, totalSteps: 20 }, // totalSteps < warmupSteps: constant after warm-up
    { lr: 3e-4, warmupSteps: 1, totalSteps: 2, minLr: 3e-5 },
    { lr: 0, warmupSteps: 10, totalSteps: 100 },
  ];
  for (const cfg of configs) {
    it(`matches for ${JSON.stringify(cfg)}`, () => {
      const last = Math.max(cfg.totalSteps, cfg.warmupSteps) + 20;
      // Every step through the end of the schedule and past it, plus step 0 and a negative step.
      for (let step = -3; step <= last; step++) {
        expect(learningRate(step, cfg), `step ${step}`).toBe(lrSchedule(step, cfg));
      }
    });
  }

  it('has the schedule\'s shape: linear ramp to lr, cosine down to minLr, flat after', () => {
    const cfg = { lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 };
    const { lr, warmupSteps, totalSteps, minLr } = cfg;
    expect(learningRate(1, cfg)).toBeCloseTo(lr / warmupSteps, 15);
    expect(learningRate(warmupSteps, cfg)).toBe(lr);
    expect(learningRate((warmupSteps + totalSteps) / 2, cfg)).toBeCloseTo((lr + minLr) / 2, 15); // cosine midpoint
    expect(learningRate(totalSteps, cfg)).toBeCloseTo(minLr, 15);
    expect(learningRate(5 * totalSteps, cfg)).toBe(learningRate(totalSteps, cfg));
    for (let s = warmupSteps + 1; s < totalSteps; s++) expect(learningRate(s + 1, cfg)).toBeLessThan(learningRate(s, cfg));
  });

  it('rejects configs no schedule could mean', () => {
    const ok = { lr: 1e-3, warmupSteps: 10, totalSteps: 100 };
    expect(() => learningRate(1, { ...ok, lr: NaN })).toThrow(/learningRate: lr must be finite/);
    expect(() => learningRate(1, { ...ok, lr: -1 })).toThrow(/lr must be finite and ≥ 0/);
    expect(() => learningRate(1, { ...ok, minLr: -1 })).toThrow(/minLr/);
    expect(() => learningRate(1, { ...ok, warmupSteps: 2.5 })).toThrow(/warmupSteps must be an integer ≥ 0/);
    expect(() => learningRate(1, { ...ok, totalSteps: -1 })).toThrow(/totalSteps must be an integer ≥ 0/);
    expect(() => learningRate(NaN, ok)).toThrow(/step must be finite/);
  });
});
