import { describe, expect, it } from 'vitest';
import { channelNormBackward, channelNormForward, type ChannelNormDims } from './channelNorm.ts';
import { assertGradientClose, dot } from './finiteDifference.ts';
import { randomArray } from './random.ts';

// Finite-difference tolerance: L = ⟨y, R⟩ with |L| ≲ 3. Truncation h²/6·|L'''| ≈ 2e-13·|L'''|, and
// |L'''| stays O(10) for per-frame variances O(1) (rstd ≈ 1); rounding ≈ ε·|L|/h ≈ 1e-9.
// So rtol 1e-6, atol 1e-8 holds a correct gradient by ≥ 10×; a missing mean or variance term
// (or a biased C instead of C − 1) changes gradients by O(1/C) ≈ 0.2 relative.
const TOL = { rtol: 1e-6, atol: 1e-8 };

describe('channelNorm forward', () => {
  it('by hand: uses the unbiased variance', () => {
    // One frame, channels [1, 2, 3]: μ = 2, unbiased σ² = (1 + 0 + 1)/2 = 1 (biased would be 2/3).
    const x = Float64Array.from([1, 2, 3]);
    const { y, mean, rstd } = channelNormForward(x, Float64Array.from([1, 1, 1]), Float64Array.from([0, 0, 0]), {
      B: 1, C: 3, T: 1,
    });
    const r = 1 / Math.sqrt(1 + 1e-5);
    expect(mean[0]).toBe(2);
    expect(rstd[0]).toBeCloseTo(r, 15);
    expect(y[0]).toBeCloseTo(-r, 15);
    expect(y[1]).toBe(0);
    expect(y[2]).toBeCloseTo(r, 15);
  });

  it('by hand: per-channel γ, β and the [B, C, T] layout (frames are columns)', () => {
    // B=1, C=2, T=2: frame t=0 has channels (0, 4), frame t=1 has (1, 1).
    const x = Float64Array.from([0, 1, 4, 1]);
    const { y } = channelNormForward(x, Float64Array.from([2, 3]), Float64Array.from([10, 20]), {
      B: 1, C: 2, T: 2,
    });
    // t=0: μ = 2, σ² = (4 + 4)/1 = 8, x̂ = ∓2/√(8 + 1e-5); t=1: σ² = 0 → x̂ = 0.
    const xh = 2 / Math.sqrt(8 + 1e-5);
    expect(y[0]).toBeCloseTo(10 - 2 * xh, 14); // c=0, t=0
    expect(y[1]).toBe(10); // c=0, t=1
    expect(y[2]).toBeCloseTo(20 + 3 * xh, 14); // c=1, t=0
    expect(y[3]).toBe(20); // c=1, t=1
  });

  it('normalised frames have mean 0 and unbiased variance σ²/(σ² + eps)', () => {
    const dims = { B: 2, C: 7, T: 3 };
    const x = randomArray(42, 5, 2);
    const { y } = channelNormForward(x, new Float64Array(7).fill(1), new Float64Array(7), dims);
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 3; t++) {
        const col = (a: Float64Array) => Array.from({ length: 7 }, (_, c) => a[b * 21 + c * 3 + t]);
        const v = col(x);
        const mu = v.reduce((s, e) => s + e, 0) / 7;
        const varX = v.reduce((s, e) => s + (e - mu) ** 2, 0) / 6;
        const yc = col(y);
        const my = yc.reduce((s, e) => s + e, 0) / 7;
        expect(Math.abs(my)).toBeLessThan(1e-14);
        expect(yc.reduce((s, e) => s + (e - my) ** 2, 0) / 6).toBeCloseTo(varX / (varX + 1e-5), 12);
      }
    }
  });

  it('rejects C < 2 (unbiased variance undefined)', () => {
    expect(() => channelNormForward(new Float64Array(3), new Float64Array(1), new Float64Array(1), { B: 1, C: 1, T: 3 })).toThrow();
  });
});

describe('channelNorm backward vs central differences', () => {
  const cases: ChannelNormDims[] = [
    { B: 1, C: 5, T: 3 },
    { B: 2, C: 5, T: 4 },
    { B: 3, C: 2, T: 2 }, // C = 2: the smallest C, where the C − 1 matters most
    { B: 2, C: 9, T: 1 },
  ];
  for (const dims of cases) {
    it(JSON.stringify(dims), () => {
      const { B, C, T } = dims;
      const x = randomArray(B * C * T, 21);
      const gamma = randomArray(C, 22, 0.5).map((v) => 1 + v);
      const beta = randomArray(C, 23);
      const R = randomArray(B * C * T, 24, 1 / Math.sqrt(B * C * T));
      const f = () => dot(channelNormForward(x, gamma, beta, dims).y, R);
      const g = channelNormBackward(x, gamma, R, dims);
      assertGradientClose('dx', f, x, g.dx, TOL);
      assertGradientClose('dgamma', f, gamma, g.dgamma, TOL);
      assertGradientClose('dbeta', f, beta, g.dbeta, TOL);
    });
  }
});
