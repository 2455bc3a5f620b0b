import { describe, expect, it } from 'vitest';
import { linearBackward, linearForward } from './linear.ts';
import { assertGradientClose, dot } from './finiteDifference.ts';
import { randomArray } from './random.ts';

// L = ⟨y, R⟩ is bilinear, so central differences carry rounding error only (≈ ε·Σ|terms|/h
// ≲ 5e-9): rtol 1e-6, atol 1e-8 passes a correct gradient, a transposed one fails by O(1).
const TOL = { rtol: 1e-6, atol: 1e-8 };

describe('linear', () => {
  it('forward by hand (y = x Wᵀ + b)', () => {
    const x = Float64Array.from([1, 2, 3, -1, 0, 1]); // N=2, In=3
    const w = Float64Array.from([1, 0, 0, 1, 1, 1]); // Out=2: rows [1,0,0], [1,1,1]
    const b = Float64Array.from([10, 20]);
    expect(Array.from(linearForward(x, w, b))).toEqual([11, 26, 9, 20]);
    expect(Array.from(linearForward(x, w, null, { N: 2, In: 3, Out: 2 }))).toEqual([1, 6, -1, 0]);
  });

  it('a bias-free forward without dims is rejected as ambiguous', () => {
    expect(() => linearForward(new Float64Array(6), new Float64Array(6), null)).toThrow(/ambiguous/);
  });

  for (const [N, In, Out] of [
    [1, 5, 3],
    [4, 3, 7],
    [6, 1, 2],
  ]) {
    it(`backward vs central differences, N=${N} In=${In} Out=${Out}`, () => {
      const x = randomArray(N * In, 31);
      const w = randomArray(Out * In, 32);
      const b = randomArray(Out, 33);
      const R = randomArray(N * Out, 34, 1 / Math.sqrt(N * Out));
      const f = () => dot(linearForward(x, w, b), R);
      const g = linearBackward(x, w, R); // shapes inferred from the three lengths
      const gExplicit = linearBackward(x, w, R, { N, In, Out });
      expect(Array.from(g.dx)).toEqual(Array.from(gExplicit.dx));
      assertGradientClose('dx', f, x, g.dx, TOL);
      assertGradientClose('dw', f, w, g.dw, TOL);
      assertGradientClose('db', f, b, g.db, TOL);
    });
  }
});
