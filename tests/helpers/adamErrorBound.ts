// Running first-order bound on |f32 GPU state − float64 oracle state| for the Adam kernel, per
// element, propagated step by step alongside the oracle (both start from the same f32 values).
// It follows adam.wgsl operation by operation and charges each rounding its worst case:
// U = 2^-24 per correctly rounded op or f32 constant, WGSL's accuracy for division (2.5 ULP = 5 U)
// and sqrt (inherited from 1/inverseSqrt: 4.5 ULP = 9 U). Errors carried from earlier steps are
// propagated through the same recurrences (m and v shrink them by β1, β2). WGSL's fma may be
// evaluated unfused (its accuracy is inherited from a·b + c), so every fma is charged a product
// rounding as well as its final one.
export const U = 2 ** -24;
export const DIV_ERR = 5 * U;
export const SQRT_ERR = 9 * U;

export interface StepConstants {
  beta1: number;
  beta2: number;
  eps: number;
  l2: number; // Adam weight decay (0 for AdamW)
  decay: number; // AdamW lr·wd (0 for Adam)
  stepSize: number; // lr / (1 − β1^t)
  invBc2Sqrt: number; // 1 / sqrt(1 − β2^t)
  /** Relative error of the GPU clip scale (0 when the scale is exactly 1). */
  scaleErr: number;
}

export class AdamErrorBound {
  readonly dP: Float64Array;
  readonly dM: Float64Array;
  readonly dV: Float64Array;

  constructor(P: number) {
    this.dP = new Float64Array(P);
    this.dM = new Float64Array(P);
    this.dV = new Float64Array(P);
  }

  /**
   * Advances the bounds over one step. p0, m0, v0: the oracle's state before the step; gc: the
   * clipped gradient (s·g, float64); p1: the oracle's params after the step.
   */
  step(c: StepConstants, p0: Float64Array, m0: Float64Array, v0: Float64Array, gc: Float64Array, p1: Float64Array): void {
    const { beta1: b1, beta2: b2 } = c;
    for (let j = 0; j < p0.length; j++) {
      const gp = gc[j]! + c.l2 * p0[j]!;
      // g' = fma(l2, p, g·s): scale error + product rounding on g·s, l2 constant and product,
      // fma rounding, and the carried params error through l2.
      const dG = Math.abs(gc[j]!) * (c.scaleErr + U) + Math.abs(c.l2 * p0[j]!) * 2 * U + Math.abs(gp) * U + c.l2 * this.dP[j]!;
      // m = fma(β1, m, (1−β1)·g'): constant, product and fma rounding on each term.
      const m1 = b1 * m0[j]! + (1 - b1) * gp;
      const dM = b1 * this.dM[j]! + (1 - b1) * dG + 3 * U * (b1 * Math.abs(m0[j]!) + (1 - b1) * Math.abs(gp));
      // v = fma(β2, v, (1−β2)·g'²): constant, square, product and fma rounding (all terms ≥ 0).
      const v1 = b2 * v0[j]! + (1 - b2) * gp * gp;
      const dV = b2 * this.dV[j]! + (1 - b2) * 2 * Math.abs(gp) * dG + 4 * U * v1;
      // den = fma(sqrt(v), invBc2Sqrt, eps); sqrt(v + δ) − sqrt(v) ≤ min(δ / 2sqrt(v), sqrt(δ)).
      const sv = Math.sqrt(v1);
      const den = sv * c.invBc2Sqrt + c.eps;
      const dSqrt = Math.min(sv > 0 ? dV / (2 * sv) : Infinity, Math.sqrt(dV));
      const dDen = c.invBc2Sqrt * dSqrt + sv * c.invBc2Sqrt * (SQRT_ERR + 3 * U) + c.eps * 2 * U;
      // Δ = stepSize · (m / den): constant, division, product.
      const delta = (c.stepSize * m1) / den;
      const dDelta = (c.stepSize * dM) / den + Math.abs(delta) * (dDen / den + DIV_ERR + 2 * U);
      // p = fma(−decay, p, p) − Δ: decay constant, product and fma rounding, then the subtraction.
      const pd = p0[j]! - c.decay * p0[j]!;
      this.dP[j] = this.dP[j]! * (1 + c.decay) + Math.abs(c.decay * p0[j]!) * 2 * U + Math.abs(pd) * U + dDelta + Math.abs(p1[j]!) * U;
      this.dM[j] = dM;
      this.dV[j] = dV;
    }
  }
}
