// Central finite differences in float64: the oracle for every reference backward pass.
//
// Error model of (f(x+h) − f(x−h)) / 2h: truncation h²/6 · f''' plus rounding ≈ ε·|f| / h with
// ε = 2.2e-16. With h = 1e-6 and |f|, |f'''| of order 1 both are ≲ 1e-10, so an analytic gradient
// that agrees to ~1e-8 is right and one that is wrong by a real term is off by far more.

/**
 * Numeric gradient of f with respect to x by central differences. x is perturbed in place and
 * restored exactly (the saved value is written back, not x ± h ∓ h). Only `indices` are computed
 * when given; the other entries are NaN so they can never be mistaken for a checked zero.
 */
export function numericGradient(
  f: () => number,
  x: Float64Array,
  h = 1e-6,
  indices?: readonly number[],
): Float64Array {
  const out = new Float64Array(x.length);
  if (indices) out.fill(NaN);
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  for (const i of idx) {
    if (i < 0 || i >= x.length) throw new RangeError(`index ${i} outside [0, ${x.length})`);
    const saved = x[i];
    // Divide by the step actually taken: saved ± h is rounded, and for |saved| ≫ h the
    // rounding of the step itself would otherwise be a relative error of ε·|saved|/h.
    const xp = saved + h;
    const xm = saved - h;
    x[i] = xp;
    const fp = f();
    x[i] = xm;
    const fm = f();
    x[i] = saved;
    out[i] = (fp - fm) / (xp - xm);
  }
  return out;
}

export interface GradientCheckResult {
  /** max |analytic − numeric| over the checked entries */
  maxAbsErr: number;
  /** max |analytic − numeric| / max(|numeric|, tiny) over the checked entries */
  maxRelErr: number;
  /** the entry with the largest violation of atol + rtol·|numeric| (−1 when none checked) */
  worstIndex: number;
  /** every checked entry satisfies |analytic − numeric| ≤ atol + rtol·|numeric| */
  ok: boolean;
  checked: number;
}

export interface GradientTolerance {
  rtol?: number;
  atol?: number;
}

/**
 * Compares an analytic gradient with a numeric one: entry i passes when
 * |analytic − numeric| ≤ atol + rtol·|numeric| (numeric is the oracle, as in DESIGN §5).
 * NaN entries of `numeric` (unchecked, see numericGradient) are skipped; a NaN or infinite
 * analytic value at a checked entry fails.
 */
export function compareGradients(
  analytic: Float64Array,
  numeric: Float64Array,
  tol: GradientTolerance = {},
): GradientCheckResult {
  const rtol = tol.rtol ?? 1e-6;
  const atol = tol.atol ?? 1e-8;
  if (analytic.length !== numeric.length) {
    throw new RangeError(`length mismatch: analytic ${analytic.length}, numeric ${numeric.length}`);
  }
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let worstIndex = -1;
  let worstExcess = -Infinity;
  let ok = true;
  let checked = 0;
  for (let i = 0; i < numeric.length; i++) {
    const n = numeric[i];
    if (Number.isNaN(n)) continue;
    checked++;
    const a = analytic[i];
    const err = Math.abs(a - n);
    if (!Number.isFinite(a) || !(err <= atol + rtol * Math.abs(n))) ok = false;
    const excess = Number.isFinite(err) ? err - (atol + rtol * Math.abs(n)) : Infinity;
    if (excess > worstExcess) {
      worstExcess = excess;
      worstIndex = i;
    }
    if (!(err <= maxAbsErr)) maxAbsErr = err;
    const rel = err / Math.max(Math.abs(n), 1e-300);
    if (!(rel <= maxRelErr)) maxRelErr = rel;
  }
  return { maxAbsErr, maxRelErr, worstIndex, ok, checked };
}

/** numericGradient + compareGradients in one call. */
export function checkGradient(
  f: () => number,
  x: Float64Array,
  analytic: Float64Array,
  opts: GradientTolerance & { h?: number; indices?: readonly number[] } = {},
): GradientCheckResult & { numeric: Float64Array } {
  const numeric = numericGradient(f, x, opts.h ?? 1e-6, opts.indices);
  return { ...compareGradients(analytic, numeric, opts), numeric };
}

/** Throws with the worst entry spelled out when the check fails; returns the result otherwise. */
export function assertGradientClose(
  name: string,
  f: () => number,
  x: Float64Array,
  analytic: Float64Array,
  opts: GradientTolerance & { h?: number; indices?: readonly number[] } = {},
): GradientCheckResult {
  const r = checkGradient(f, x, analytic, opts);
  if (r.checked === 0) throw new Error(`${name}: no entries checked`);
  if (!r.ok) {
    const i = r.worstIndex;
    throw new Error(
      `${name}: gradient mismatch at [${i}]: analytic ${analytic[i]}, numeric ${r.numeric[i]} ` +
        `(max abs err ${r.maxAbsErr.toExponential(3)}, max rel err ${r.maxRelErr.toExponential(3)}, ` +
        `rtol ${opts.rtol ?? 1e-6}, atol ${opts.atol ?? 1e-8})`,
    );
  }
  return r;
}

/** Up to `count` distinct indices in [0, n), all of them when n ≤ count; deterministic in seed. */
export function sampleIndices(n: number, count: number, seed: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  // Partial Fisher–Yates driven by a tiny LCG: deterministic without importing the test PRNG.
  const pool = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = i + (s % (n - i));
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  return pool.slice(0, count).sort((a, b) => a - b);
}

/**
 * Like numericGradient, for functions with kinks (ReLU): after each perturbed evaluation
 * `smooth()` is asked whether f stayed on the same smooth piece as at the unperturbed point
 * (e.g. every ReLU input kept its sign). Where it did not, the central difference straddles a
 * kink and estimates no derivative, so that entry is NaN (skipped by compareGradients) and
 * counted in `skipped` — callers should assert it stays small so a check cannot pass vacuously.
 */
export function numericGradientGuarded(
  f: () => number,
  x: Float64Array,
  smooth: () => boolean,
  h = 1e-6,
  indices?: readonly number[],
): { numeric: Float64Array; skipped: number } {
  const numeric = new Float64Array(x.length).fill(NaN);
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  let skipped = 0;
  for (const i of idx) {
    if (i < 0 || i >= x.length) throw new RangeError(`index ${i} outside [0, ${x.length})`);
    const saved = x[i];
    const xp = saved + h;
    const xm = saved - h;
    x[i] = xp;
    const fp = f();
    const okP = smooth();
    x[i] = xm;
    const fm = f();
    const okM = smooth();
    x[i] = saved;
    if (okP && okM) numeric[i] = (fp - fm) / (xp - xm);
    else skipped++;
  }
  return { numeric, skipped };
}

/** Σ a_i b_i — the scalar "loss" L = ⟨y, R⟩ whose gradient wrt y is R, for backward checks. */
export function dot(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new RangeError(`dot: lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
