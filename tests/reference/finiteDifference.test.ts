import { describe, expect, it } from 'vitest';
import {
  assertGradientClose,
  compareGradients,
  dot,
  numericGradient,
  numericGradientGuarded,
  sampleIndices,
} from './finiteDifference.ts';

describe('numericGradient', () => {
  it('matches exact derivatives of smooth functions', () => {
    const x = Float64Array.from([0.3, -1.2, 2.5]);
    // f = Σ sin(x_i) + x_0·x_1³ → ∂f/∂x = cos x + (x_1³, 3x_0x_1², 0)
    const f = () => Math.sin(x[0]) + Math.sin(x[1]) + Math.sin(x[2]) + x[0] * x[1] ** 3;
    const g = numericGradient(f, x);
    const exact = [Math.cos(0.3) + (-1.2) ** 3, Math.cos(-1.2) + 3 * 0.3 * 1.44, Math.cos(2.5)];
    // h = 1e-6: truncation h²/6·|f'''| ≈ 1e-12, rounding ε·|f|/h ≈ 1e-9 → 1e-8 is a 10× margin.
    for (let i = 0; i < 3; i++) expect(Math.abs(g[i] - exact[i])).toBeLessThan(1e-8);
  });

  it('restores x bit-for-bit, divides by the step actually taken, leaves unchecked entries NaN', () => {
    // Near 1e8 doubles are 1.5e-8 apart, so x ± 1e-6 is rounded by up to 0.75% of the step;
    // dividing by 2h instead of the realised step would miss the slope 0.1 by ~1e-3.
    const x = Float64Array.from([0.1, 1e8 + 0.3, -7.77]);
    const before = Float64Array.from(x);
    const g = numericGradient(() => x[0] * (x[1] - 1e8) + x[2], x, 1e-6, [1]);
    expect(Array.from(x)).toEqual(Array.from(before));
    expect(Number.isNaN(g[0])).toBe(true);
    expect(Number.isNaN(g[2])).toBe(true);
    expect(Math.abs(g[1] - 0.1)).toBeLessThan(1e-9);
  });
});

describe('compareGradients', () => {
  it('passes a correct gradient and fails one that is off by 1e-4 relative', () => {
    const x = Float64Array.from([0.5, -0.25, 1.5, 2]);
    const f = () => dot(x, x) / 2; // ∇ = x
    const numeric = numericGradient(f, x);
    expect(compareGradients(Float64Array.from(x), numeric).ok).toBe(true);
    const wrong = Float64Array.from(x);
    wrong[2] *= 1 + 1e-4;
    const r = compareGradients(wrong, numeric);
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toBe(2);
    expect(() => assertGradientClose('wrong', f, x, wrong)).toThrow(/mismatch at \[2\]/);
  });

  it('fails on a NaN analytic value and skips NaN (unchecked) numeric entries', () => {
    const numeric = Float64Array.from([1, NaN]);
    expect(compareGradients(Float64Array.from([1, 123]), numeric).ok).toBe(true);
    expect(compareGradients(Float64Array.from([NaN, 0]), numeric).ok).toBe(false);
    expect(compareGradients(Float64Array.from([1, 0]), numeric).checked).toBe(1);
  });
});

describe('numericGradientGuarded', () => {
  it('skips entries whose perturbation crosses a kink', () => {
    const x = Float64Array.from([5e-7, 2]);
    const relu = (v: number) => Math.max(v, 0);
    const f = () => relu(x[0]) + relu(x[1]);
    const base = [x[0] > 0, x[1] > 0];
    const { numeric, skipped } = numericGradientGuarded(f, x, () => (x[0] > 0) === base[0] && (x[1] > 0) === base[1]);
    expect(skipped).toBe(1);
    expect(Number.isNaN(numeric[0])).toBe(true);
    expect(Math.abs(numeric[1] - 1)).toBeLessThan(1e-9);
  });
});

describe('sampleIndices', () => {
  it('gives distinct sorted in-range indices, deterministically', () => {
    const a = sampleIndices(100, 12, 7);
    expect(a).toEqual(sampleIndices(100, 12, 7));
    expect(new Set(a).size).toBe(12);
    expect(a.every((i, j) => i >= 0 && i < 100 && (j === 0 || a[j - 1] < i))).toBe(true);
    expect(sampleIndices(5, 12, 7)).toEqual([0, 1, 2, 3, 4]);
  });
});
