import { describe, expect, it } from 'vitest';
import { gruBackward, gruForward, type GruDims, type GruParams } from './gru.ts';
import { assertGradientClose, dot } from './finiteDifference.ts';
import { randomArray } from './random.ts';

// Finite-difference tolerance: L = ⟨h, R⟩ + ⟨h_T, S⟩ = O(1), smooth (σ, tanh), with
// derivatives of all orders O(1) for O(1) weights, so h = 1e-6 gives truncation ≈ 1e-13 and
// rounding ≈ ε·|L|/h ≈ 1e-9 (summed over ≲ 100 terms). rtol 1e-6, atol 1e-8 keeps ≥ 10× margin;
// a swapped gate or a b_hn outside r ⊙ (…) is off by O(0.1).
const TOL = { rtol: 1e-6, atol: 1e-8 };

function zeroParams(H: number, Cin: number): GruParams {
  return {
    weightIh: new Float64Array(3 * H * Cin),
    weightHh: new Float64Array(3 * H * H),
    biasIh: new Float64Array(3 * H),
    biasHh: new Float64Array(3 * H),
  };
}

describe('gru forward', () => {
  it('by hand: zero parameters halve the state each step (r = z = ½, n = 0)', () => {
    const dims: GruDims = { B: 1, T: 3, Cin: 2, H: 2 };
    const { h } = gruForward(Float64Array.from([1, 2, 3, 4, 5, 6]), Float64Array.from([1, -2]), zeroParams(2, 2), dims);
    expect(Array.from(h)).toEqual([0.5, -1, 0.25, -0.5, 0.125, -0.25]);
  });

  it('by hand: b_hn is multiplied by r, b_in is not', () => {
    // r = σ(0) = ½, z = σ(0) = ½, n = tanh(b_in + r·b_hn) = tanh(0.3 + ½·2), h' = ½n + ½h0.
    const p = zeroParams(1, 1);
    p.biasIh[2] = 0.3;
    p.biasHh[2] = 2;
    const { h } = gruForward(Float64Array.from([7]), Float64Array.from([0.4]), p, { B: 1, T: 1, Cin: 1, H: 1 });
    expect(h[0]).toBeCloseTo(0.5 * Math.tanh(1.3) + 0.2, 15);
  });

  it('by hand: gate order (r, z, n) in the rows of weight_ih', () => {
    // Only the z rows see x: z = σ(5·x) with x = 1 → h' = (1 − z)·tanh(0) + z·h0 = z·h0.
    const p = zeroParams(1, 1);
    p.weightIh[1] = 5;
    const { h } = gruForward(Float64Array.from([1]), Float64Array.from([0.8]), p, { B: 1, T: 1, Cin: 1, H: 1 });
    expect(h[0]).toBeCloseTo(0.8 / (1 + Math.exp(-5)), 15);
    // Only the r rows see x: r scales W_hn h + b_hn; with b_hn = 1: n = tanh(σ(5)), z = ½.
    const q = zeroParams(1, 1);
    q.weightIh[0] = 5;
    q.biasHh[2] = 1;
    const g = gruForward(Float64Array.from([1]), Float64Array.from([0.8]), q, { B: 1, T: 1, Cin: 1, H: 1 });
    expect(g.h[0]).toBeCloseTo(0.5 * Math.tanh(1 / (1 + Math.exp(-5))) + 0.4, 15);
  });

  it('null h0 means zeros', () => {
    const dims: GruDims = { B: 2, T: 3, Cin: 3, H: 5 };
    const p: GruParams = {
      weightIh: randomArray(45, 1, 0.5), weightHh: randomArray(75, 2, 0.5), biasIh: randomArray(15, 3), biasHh: randomArray(15, 4),
    };
    const x = randomArray(18, 5);
    expect(Array.from(gruForward(x, null, p, dims).h)).toEqual(Array.from(gruForward(x, new Float64Array(10), p, dims).h));
  });
});

describe('gru backward vs central differences', () => {
  const cases: (GruDims & { withDhT: boolean })[] = [
    { B: 1, T: 4, Cin: 3, H: 5, withDhT: false },
    { B: 2, T: 5, Cin: 3, H: 5, withDhT: true },
    { B: 3, T: 3, Cin: 6, H: 2, withDhT: true },
  ];
  for (const { withDhT, ...dims } of cases) {
    it(`${JSON.stringify(dims)} dhT=${withDhT}`, () => {
      const { B, T, Cin, H } = dims;
      const x = randomArray(B * T * Cin, 71);
      const h0 = randomArray(B * H, 72, 0.5); // non-zero initial state
      const p: GruParams = {
        weightIh: randomArray(3 * H * Cin, 73, 1 / Math.sqrt(Cin)),
        weightHh: randomArray(3 * H * H, 74, 1 / Math.sqrt(H)),
        biasIh: randomArray(3 * H, 75, 0.3),
        biasHh: randomArray(3 * H, 76, 0.3),
      };
      const R = randomArray(B * T * H, 77, 1 / Math.sqrt(B * T * H));
      const S = withDhT ? randomArray(B * H, 78) : null;
      const loss = () => {
        const { h } = gruForward(x, h0, p, dims);
        let l = dot(h, R);
        if (S) for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) l += S[b * H + j] * h[(b * T + T - 1) * H + j];
        return l;
      };
      const { cache } = gruForward(x, h0, p, dims);
      const g = gruBackward(cache, R, S);
      assertGradientClose('dx', loss, x, g.dx, TOL);
      assertGradientClose('dh0', loss, h0, g.dh0, TOL);
      assertGradientClose('dWeightIh', loss, p.weightIh, g.dWeightIh, TOL);
      assertGradientClose('dWeightHh', loss, p.weightHh, g.dWeightHh, TOL);
      assertGradientClose('dBiasIh', loss, p.biasIh, g.dBiasIh, TOL);
      assertGradientClose('dBiasHh', loss, p.biasHh, g.dBiasHh, TOL);
    });
  }
});
