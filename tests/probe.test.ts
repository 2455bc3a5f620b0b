// Linear probe (softmax regression on the CPU): separable data is learned, random labels are not,
// training is deterministic and invariant to feature scale, bad inputs are refused.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/runtime/errors.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { majorityBaseline, meanPool, probeAccuracy, probePredict, runProbe, trainLinearProbe } from '../src/cpc/probe.ts';

/**
 * Rows labelled by a random linear "teacher" (argmax of V x + c), keeping only rows whose best teacher
 * logit beats the runner-up by ≥ `margin`: linearly separable with a margin, so a softmax regression
 * can reach 100 %.
 */
function teacherSet(rng: Rng, n: number, D: number, K: number, margin: number, teacherSeed: number) {
  const t = new Rng(teacherSeed);
  const V = Float64Array.from({ length: K * D }, () => t.normal() / Math.sqrt(D));
  const c = Float64Array.from({ length: K }, () => 0.3 * t.normal());
  const x = new Float32Array(n * D);
  const y = new Uint32Array(n);
  let kept = 0;
  const row = new Float32Array(D);
  while (kept < n) {
    for (let d = 0; d < D; d++) row[d] = rng.normal();
    let best = -Infinity, second = -Infinity, arg = 0;
    for (let k = 0; k < K; k++) {
      let z = c[k]!;
      for (let d = 0; d < D; d++) z += V[k * D + d]! * row[d]!;
      if (z > best) { second = best; best = z; arg = k; } else if (z > second) second = z;
    }
    if (best - second < margin) continue;
    x.set(row, kept * D);
    y[kept++] = arg;
  }
  return { x, y };
}

describe('linear probe', () => {
  it('reaches ≥ 99 % on a linearly separable toy set', () => {
    const D = 16, K = 5;
    const train = teacherSet(new Rng(1), 4000, D, K, 0.2, 99);
    const test = teacherSet(new Rng(2), 2000, D, K, 0.2, 99);
    const r = runProbe({ features: train.x, labels: train.y }, { features: test.x, labels: test.y }, K, { seed: 0 });
    expect(r.trainAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(r.majority).toBeLessThan(0.5);
  });

  it('stays at chance on random labels', () => {
    // K = 4 → chance 0.25; 3000 independent test rows give a binomial std of √(0.25·0.75/3000) ≈ 0.008,
    // so ±0.04 is 5 std: a probe that leaked labels or memorised test rows would fail this.
    const D = 32, K = 4, rng = new Rng(5);
    const mk = (n: number) => ({
      features: Float32Array.from({ length: n * D }, () => rng.normal()),
      labels: Uint32Array.from({ length: n }, () => rng.int(K)),
    });
    const r = runProbe(mk(3000), mk(3000), K);
    expect(Math.abs(r.testAccuracy - 0.25)).toBeLessThan(0.04);
  });

  it('is deterministic and ignores feature scale and offset (standardised with train statistics)', () => {
    const D = 8, K = 3;
    const { x, y } = teacherSet(new Rng(3), 600, D, K, 0.1, 7);
    const a = trainLinearProbe(x, y, K, { seed: 4 });
    const b = trainLinearProbe(x, y, K, { seed: 4 });
    expect(Array.from(b.weight)).toEqual(Array.from(a.weight));
    expect(Array.from(b.bias)).toEqual(Array.from(a.bias));
    // Per-dimension affine change: standardisation undoes it, so predictions match. Scales are powers
    // of two and offsets small so the float32 features change only by exactly-representable steps
    // (the standardised values then agree to ~1e-7, far below any decision margin of 0.1 here).
    const x2 = x.map((v, i) => v * 2 ** ((i % D) - 3) + (i % D));
    const c = trainLinearProbe(x2, y, K, { seed: 4 });
    expect(Array.from(probePredict(c, x2))).toEqual(Array.from(probePredict(a, x)));
    const other = trainLinearProbe(x, y, K, { l2: 1e-2 });
    expect(Array.from(other.weight)).not.toEqual(Array.from(a.weight));
  });

  it('reaches the optimum of the L2-regularised softmax objective (gradient recomputed here in float64)', () => {
    // Random labels: not separable, so the optimum is interior and the gradient there is 0. The
    // gradient is recomputed from the definition (no code shared with the solver); at the solver's
    // answer its largest component must be ≤ 1e-5 (the solver stops at 1e-6; float32 standardised
    // features perturb the recomputation by ~1e-7 relative).
    const D = 6, K = 4, N = 500, l2 = 1e-3, rng = new Rng(11);
    const x = Float32Array.from({ length: N * D }, () => rng.normal());
    const y = Uint32Array.from({ length: N }, () => rng.int(K));
    const m = trainLinearProbe(x, y, K, { l2 });
    expect(m.converged).toBe(true);
    const gW = new Float64Array(K * D), gb = new Float64Array(K);
    for (let i = 0; i < N; i++) {
      const xs = Array.from({ length: D }, (_, d) => (x[i * D + d]! - m.mean[d]!) * m.invStd[d]!);
      const z = Array.from({ length: K }, (_, k) => m.bias[k]! + xs.reduce((s, v, d) => s + v * m.weight[k * D + d]!, 0));
      const zmax = Math.max(...z);
      const e = z.map((v) => Math.exp(v - zmax));
      const sum = e.reduce((s, v) => s + v, 0);
      for (let k = 0; k < K; k++) {
        const p = e[k]! / sum - (k === y[i] ? 1 : 0);
        gb[k] += p / N;
        for (let d = 0; d < D; d++) gW[k * D + d] += (p * xs[d]!) / N;
      }
    }
    for (let j = 0; j < K * D; j++) gW[j] += l2 * m.weight[j]!;
    const worst = Math.max(...Array.from(gW, Math.abs), ...Array.from(gb, Math.abs));
    expect(worst).toBeLessThanOrEqual(1e-5);
    // And it is not a trivial solution: weights are non-zero where the gradient vanishes.
    expect(Math.max(...Array.from(m.weight, Math.abs))).toBeGreaterThan(1e-3);
  });

  it('chooses λ on a validation part: a large λ on noise, a small one on separable data', () => {
    const D = 8, K = 3, rng = new Rng(21);
    const groups = Uint32Array.from({ length: 600 }, (_, i) => i % 60);
    const noise = { features: Float32Array.from({ length: 600 * D }, () => rng.normal()), labels: Uint32Array.from({ length: 600 }, () => rng.int(K)), groups };
    const sep = teacherSet(new Rng(22), 600, D, K, 0.3, 23);
    const rn = runProbe(noise, noise, K);
    const rs = runProbe({ features: sep.x, labels: sep.y, groups }, { features: sep.x, labels: sep.y, groups }, K);
    expect(rn.l2Trials.map((t) => t.l2)).toEqual([1e-1, 1e-2, 1e-3, 1e-4, 1e-5]);
    expect(rs.l2).toBeLessThan(rn.l2);
    expect(rs.trainAccuracy).toBeGreaterThanOrEqual(0.99);
  });

  it('handles a constant feature and a tiny training set (one row per window)', () => {
    const D = 3, K = 2;
    // Column 1 is constant (std 0, floored) and column 2 decides the class.
    const x = Float32Array.from([5, 1, -1, 5, 1, -2, 5, 1, 1, 5, 1, 3]);
    const y = Uint32Array.from([0, 0, 1, 1]);
    const m = trainLinearProbe(x, y, K);
    expect(probeAccuracy(m, x, y)).toBe(1);
    expect(Number.isFinite(m.trainLoss)).toBe(true);
  });

  it('refuses inconsistent inputs with clear messages', () => {
    const x = new Float32Array(12);
    expect(() => trainLinearProbe(x, new Uint32Array(5), 2)).toThrow(ShapeError);
    expect(() => trainLinearProbe(x, new Uint32Array(5), 2)).toThrow(/features has 12 values, not a positive multiple of the 5 labels/);
    expect(() => trainLinearProbe(x, Uint32Array.from([0, 1, 2, 0]), 2)).toThrow(/label 2 at row 2 is out of range for 2 classes/);
    expect(() => trainLinearProbe(x, new Uint32Array(4), 1)).toThrow(/numClasses must be an integer ≥ 2/);
    const nan = new Float32Array(12); nan[7] = NaN;
    expect(() => trainLinearProbe(nan, new Uint32Array(4), 2)).toThrow(/feature row 2 column 1 is not finite/);
    expect(() => trainLinearProbe(new Float32Array(0), new Uint32Array(0), 2)).toThrow(/no training rows/);
    const m = trainLinearProbe(new Float32Array(12), Uint32Array.from([0, 1, 0, 1]), 2);
    expect(() => probeAccuracy(m, new Float32Array(10), new Uint32Array(4))).toThrow(/probeAccuracy: features has 10 values, expected N·D = 4·3 = 12/);
  });

  it('meanPool averages over time; majorityBaseline uses the train majority', () => {
    // [N=2, T=2, D=2]
    const f = Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]);
    expect(Array.from(meanPool(f, 2, 2, 2))).toEqual([2, 3, 20, 30]);
    expect(() => meanPool(f, 2, 3, 2)).toThrow(/expected N·T·D/);
    expect(majorityBaseline(Uint32Array.from([1, 1, 0]), Uint32Array.from([1, 0, 0, 0]), 2)).toBe(0.25);
  });
});
