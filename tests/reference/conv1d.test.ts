import { describe, expect, it } from 'vitest';
import { conv1dBackward, conv1dForward, conv1dOutputLength, type Conv1dDims } from './conv1d.ts';
import { assertGradientClose, dot } from './finiteDifference.ts';
import { randomArray } from './random.ts';

// Tolerance for every finite-difference check here: the loss L = ⟨y, R⟩ is linear in each of
// x, w, b separately, so central differences have no truncation error at all; what is left is
// rounding, ≈ ε·(Σ|terms|)/h ≈ 2e-16·30/1e-6 ≈ 6e-9 at worst. rtol 1e-6 + atol 1e-8 therefore
// passes a correct gradient, while any wrong index or missing term is off by O(0.1–1).
const TOL = { rtol: 1e-6, atol: 1e-8 };

describe('conv1d forward', () => {
  it('by hand: 1 channel, kernel 2, stride 2, trailing sample dropped', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5]);
    const { y, Lout } = conv1dForward(x, Float64Array.from([2, 1]), Float64Array.from([0.5]), {
      B: 1, Cin: 1, L: 5, Cout: 1, K: 2, stride: 2,
    });
    expect(Lout).toBe(2);
    expect(Array.from(y)).toEqual([2 * 1 + 1 * 2 + 0.5, 2 * 3 + 1 * 4 + 0.5]);
    // The 5th sample never reaches y, so its gradient is exactly 0.
    const { dx } = conv1dBackward(x, Float64Array.from([2, 1]), Float64Array.from([1, 1]), {
      B: 1, Cin: 1, L: 5, Cout: 1, K: 2, stride: 2,
    });
    expect(Array.from(dx)).toEqual([2, 1, 2, 1, 0]);
  });

  it('by hand: 2 in, 2 out channels, PyTorch weight layout [Cout, Cin, K], no bias', () => {
    // x[0] = [1, 0, 2], x[1] = [0, 1, 1]; w[o=0] = [[1, 1], [0, 0]], w[o=1] = [[0, 0], [1, -1]]
    const x = Float64Array.from([1, 0, 2, 0, 1, 1]);
    const w = Float64Array.from([1, 1, 0, 0, 0, 0, 1, -1]);
    const { y, Lout } = conv1dForward(x, w, null, { B: 1, Cin: 2, L: 3, Cout: 2, K: 2, stride: 1 });
    expect(Lout).toBe(2);
    // out0[t] = x0[t] + x0[t+1] = [1, 2]; out1[t] = x1[t] − x1[t+1] = [−1, 0]
    expect(Array.from(y)).toEqual([1, 2, -1, 0]);
  });

  it('output length floors, and L < K is rejected', () => {
    expect(conv1dOutputLength(17, 4, 3)).toBe(5);
    expect(conv1dOutputLength(20480, 10, 5)).toBe(4095);
    expect(() => conv1dOutputLength(3, 4, 1)).toThrow();
  });

  it('batches are independent', () => {
    const dims: Conv1dDims = { B: 2, Cin: 3, L: 11, Cout: 5, K: 3, stride: 2 };
    const x = randomArray(2 * 3 * 11, 1);
    const w = randomArray(5 * 3 * 3, 2);
    const b = randomArray(5, 3);
    const both = conv1dForward(x, w, b, dims).y;
    const second = conv1dForward(x.slice(33), w, b, { ...dims, B: 1 }).y;
    expect(Array.from(both.slice(both.length / 2))).toEqual(Array.from(second));
  });
});

describe('conv1d backward vs central differences', () => {
  const cases: Conv1dDims[] = [
    { B: 1, Cin: 1, L: 23, Cout: 5, K: 4, stride: 3 }, // layer-0 shape, remainder 1 after stride
    { B: 3, Cin: 3, L: 17, Cout: 5, K: 4, stride: 3 }, // odd channels, remainder 1
    { B: 2, Cin: 7, L: 9, Cout: 3, K: 3, stride: 1 },
    { B: 2, Cin: 2, L: 12, Cout: 6, K: 5, stride: 2 }, // remainder 1, even-ish shapes
  ];
  for (const dims of cases) {
    it(JSON.stringify(dims), () => {
      const { B, Cin, L, Cout, K } = dims;
      const x = randomArray(B * Cin * L, 11);
      const w = randomArray(Cout * Cin * K, 12, 0.5);
      const b = randomArray(Cout, 13);
      const { y } = conv1dForward(x, w, b, dims);
      const R = randomArray(y.length, 14, 1 / Math.sqrt(y.length));
      const f = () => dot(conv1dForward(x, w, b, dims).y, R);
      const g = conv1dBackward(x, w, R, dims);
      assertGradientClose('dx', f, x, g.dx, TOL);
      assertGradientClose('dw', f, w, g.dw, TOL);
      assertGradientClose('db', f, b, g.db, TOL);
    });
  }
});
