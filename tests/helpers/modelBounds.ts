// Error bounds for a whole-model float32 result (loss and every parameter gradient of the GPU
// trainer) against a float64 reference — the oracle (tests/trainer.test.ts) or PyTorch
// (tests/pytorchParity.test.ts). One derivation, used by both.
import { expect } from 'vitest';

/**
 * Parameters and signal are f32-representable, so the only differences are float32 rounding inside
 * the GPU kernels. Each kernel is checked against per-element error bounds in its own test (relative
 * errors ≲ 1e-5 for its outputs); here ~12 ops compose, and the backward multiplies errors by the
 * conditioning of softmax/GRU/ReLU chains (the loss's gradient is O(1) while individual score terms
 * are O(10)), so we allow 1e-3 of each gradient tensor's norm — 100× the per-kernel level. A wrong
 * index, a missing accumulation or a dropped term gives errors of order 1 of the norm, three orders
 * of magnitude above this.
 */
export const GRAD_NORM_RTOL = 1e-3;
export const LOSS_RTOL = 1e-4;

export function l2(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/** ‖got − want‖ / ‖want‖ (want's norm floored at 1e-30). */
export function relNormError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  const diff = Float64Array.from(want, (w, i) => got[i]! - w);
  return l2(diff) / Math.max(l2(want), 1e-30);
}

/**
 * Loss within `lossRtol` and every gradient tensor within `gradRtol` of its norm; the same names on
 * both sides. Returns the worst gradient error (for the report).
 */
export function expectModelGradsClose(
  got: { loss: number; grads: Map<string, ArrayLike<number>> },
  want: { loss: number; grads: Map<string, ArrayLike<number>> },
  what: string, gradRtol = GRAD_NORM_RTOL, lossRtol = LOSS_RTOL,
): { lossRel: number; worstGrad: number; worstName: string } {
  const lossRel = Math.abs(got.loss - want.loss) / Math.abs(want.loss);
  expect(lossRel, `${what}: loss ${got.loss} vs ${want.loss}`).toBeLessThanOrEqual(lossRtol);
  expect([...got.grads.keys()].sort(), `${what}: gradient names`).toEqual([...want.grads.keys()].sort());
  let worstGrad = 0, worstName = '';
  for (const [name, w] of want.grads) {
    const g = got.grads.get(name)!;
    expect(g.length, `${what}: ${name} length`).toBe(w.length);
    const rel = relNormError(g, w);
    if (rel > worstGrad) { worstGrad = rel; worstName = name; }
    expect(rel, `${what}: ${name}: ‖got − want‖/‖want‖ = ${rel.toExponential(2)} (‖want‖ = ${l2(w).toExponential(2)})`).toBeLessThanOrEqual(gradRtol);
  }
  return { lossRel, worstGrad, worstName };
}
