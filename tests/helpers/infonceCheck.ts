// Element-wise error bounds for the predictor / InfoNCE tests. Tolerances there are derived from
// the standard floating-point error analysis of the computation (Higham, "Accuracy and Stability of
// Numerical Algorithms", §3.1): an f32 sum of n products, in ANY order, satisfies
//   |fl(Σ a_i b_i) − Σ a_i b_i| ≤ γ_n Σ |a_i b_i|,   γ_n = n·u / (1 − n·u),   u = 2^-24,
// and the magnitudes Σ|a_i b_i| are computed in float64 from the same inputs (usually by running the
// oracle on absolute values). Inputs are rounded to f32 BEFORE the oracle sees them, so the bound
// covers the GPU arithmetic alone.

/** Unit roundoff of IEEE binary32. */
export const U32 = 2 ** -24;

export function gamma(n: number): number {
  return (n * U32) / (1 - n * U32);
}

/** Float64 copy of `x` rounded to f32, so the oracle sees exactly what the GPU sees. */
export function f32(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.fround(v));
}

export function abs(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.abs(v));
}

