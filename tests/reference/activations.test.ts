import { describe, expect, it } from 'vitest';
import { reluBackward, reluForward } from './activations.ts';
import { assertGradientClose, dot } from './finiteDifference.ts';
import { randomArray } from './random.ts';

describe('relu', () => {
  it('forward by hand', () => {
    const y = reluForward(Float64Array.from([-2, -0, 0, 0.5, 3]));
    expect(Array.from(y)).toEqual([0, 0, 0, 0.5, 3]);
  });

  it('backward gives 0 at x ≤ 0 and is the same from x or y', () => {
    const x = Float64Array.from([-1, 0, 2, -0.1, 5]);
    const dy = Float64Array.from([1, 2, 3, 4, 5]);
    expect(Array.from(reluBackward(x, dy))).toEqual([0, 0, 3, 0, 5]);
    expect(Array.from(reluBackward(reluForward(x), dy))).toEqual([0, 0, 3, 0, 5]);
  });

  it('backward matches central differences away from the kink', () => {
    // Inputs kept ≥ 0.05 from 0 so the ±1e-6 perturbation never crosses the kink.
    const x = randomArray(37, 1).map((v) => (v >= 0 ? v + 0.05 : v - 0.05));
    const R = randomArray(37, 2);
    const dx = reluBackward(x, R);
    // ReLU is piecewise linear: central differences are exact up to rounding (ε·|f|/h ≈ 1e-9),
    // so rtol 1e-6 / atol 1e-8 leaves a 10× margin.
    assertGradientClose('relu dx', () => dot(reluForward(x), R), x, dx, { rtol: 1e-6, atol: 1e-8 });
  });
});
