// Probe confidence intervals on cases with known answers.
import { describe, expect, it } from 'vitest';
import { accuracyInterval, clearlyAbove, groupBootstrapInterval, wilsonInterval } from '../src/cpc/intervals.ts';

describe('intervals', () => {
  it('Wilson score interval matches the closed form on known cases', () => {
    // 8/10 at 95 %: (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), worked by hand:
    // centre 0.99208/1.38415 = 0.71674, half-width 1.96·√(0.016 + 0.009604)/1.38415 = 0.22658.
    const a = wilsonInterval(8, 10);
    expect(a.lo).toBeCloseTo(0.4902, 4);
    expect(a.hi).toBeCloseTo(0.9433, 4);
    // 0/10: lower bound 0, upper z²/(n + z²) = 3.8415/13.8415 = 0.2775.
    const b = wilsonInterval(0, 10);
    expect(b.lo).toBe(0);
    expect(b.hi).toBeCloseTo(0.2775, 4);
    // n = 10 000, k = 5000: ≈ 0.5 ± 1.96·0.005.
    const c = wilsonInterval(5000, 10000);
    expect(c.lo).toBeCloseTo(0.5 - 1.96 * 0.005, 4);
    expect(c.hi).toBeCloseTo(0.5 + 1.96 * 0.005, 4);
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
  });

  it('group bootstrap widens the interval when rows are correlated within utterances', () => {
    // 10 utterances × 10 rows; 5 utterances all right, 5 all wrong → accuracy 0.5 with effectively
    // 10 observations: the 95 % interval of a Binomial(10, 0.5)/10 is about 0.2 … 0.8, while
    // Wilson over the 100 rows (wrongly independent) gives 0.40 … 0.60.
    const correct = Uint8Array.from({ length: 100 }, (_, i) => (Math.floor(i / 10) % 2 === 0 ? 1 : 0));
    const groups = Uint32Array.from({ length: 100 }, (_, i) => Math.floor(i / 10));
    const b = groupBootstrapInterval(correct, groups, 2000, 1);
    expect(b.lo).toBeGreaterThanOrEqual(0.15);
    expect(b.lo).toBeLessThanOrEqual(0.25);
    expect(b.hi).toBeGreaterThanOrEqual(0.75);
    expect(b.hi).toBeLessThanOrEqual(0.85);
    const u = accuracyInterval(correct, groups, 1);
    expect(u.lo).toBeLessThanOrEqual(b.lo);
    expect(u.hi).toBeGreaterThanOrEqual(b.hi);
    // One row per group: the bootstrap is the ordinary one, close to Wilson on 100 rows.
    const single = groupBootstrapInterval(correct, Uint32Array.from({ length: 100 }, (_, i) => i), 2000, 1);
    const w = wilsonInterval(50, 100);
    expect(Math.abs(single.lo - w.lo)).toBeLessThan(0.03);
    expect(Math.abs(single.hi - w.hi)).toBeLessThan(0.03);
  });

  it('a winner only when the intervals do not overlap', () => {
    expect(clearlyAbove({ lo: 0.6, hi: 0.7 }, { lo: 0.4, hi: 0.59 })).toBe(true);
    expect(clearlyAbove({ lo: 0.6, hi: 0.7 }, { lo: 0.4, hi: 0.61 })).toBe(false);
  });
});
