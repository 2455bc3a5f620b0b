import { describe, expect, it } from 'vitest';
import { mulberry32, randn, randomArray, randomInt, randomUniformArray } from './random.ts';

describe('random', () => {
  it('is reproducible from its seed and differs across seeds', () => {
    expect(Array.from(randomArray(16, 42))).toEqual(Array.from(randomArray(16, 42)));
    expect(Array.from(randomArray(16, 42))).not.toEqual(Array.from(randomArray(16, 43)));
  });

  it('mulberry32 yields values in [0, 1)', () => {
    const rng = mulberry32(1);
    for (let i = 0; i < 10000; i++) {
      const u = rng();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });

  it('randn has mean ≈ 0 and variance ≈ 1', () => {
    const n = 20000;
    const rng = mulberry32(3);
    let s = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const v = randn(rng);
      s += v;
      ss += v * v;
    }
    const mean = s / n;
    const variance = ss / n - mean * mean;
    // 5σ bounds: sd(mean) = 1/√n ≈ 0.007, sd(var) ≈ √(2/n) = 0.01.
    expect(Math.abs(mean)).toBeLessThan(0.035);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('scales and bounds', () => {
    const a = randomArray(1000, 5, 1e-3);
    expect(Math.max(...a.map(Math.abs))).toBeLessThan(1e-2);
    const u = randomUniformArray(1000, 5, 2, 3);
    expect(u.every((v) => v >= 2 && v < 3)).toBe(true);
    const rng = mulberry32(9);
    for (let i = 0; i < 1000; i++) {
      const k = randomInt(rng, 7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });
});
