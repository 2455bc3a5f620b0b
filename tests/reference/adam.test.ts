import { describe, expect, it } from 'vitest';
import { adamStep, globalNormClip, lrSchedule } from './adam.ts';
import { randomArray } from './random.ts';

describe('adamStep', () => {
  it('first step moves each parameter by ≈ lr·sign(grad)', () => {
    // Step 1: m̂ = g, √v̂ = |g| → Δ = −lr·g/(|g| + eps), within lr·eps/|g| of −lr·sign(g).
    const p = randomArray(50, 1);
    const p0 = Float64Array.from(p);
    const g = randomArray(50, 2).map((v) => (v >= 0 ? v + 0.01 : v - 0.01));
    const lr = 1e-3;
    adamStep(p, g, new Float64Array(50), new Float64Array(50), 1, { lr });
    for (let i = 0; i < 50; i++) {
      const expected = -lr * Math.sign(g[i]);
      expect(Math.abs(p[i] - p0[i] - expected)).toBeLessThan(lr * (1e-8 / 0.01) + 1e-15);
    }
  });

  it('two steps by hand (β1 = 0.9, β2 = 0.999, eps after the bias correction)', () => {
    const p = Float64Array.from([1]);
    const m = new Float64Array(1);
    const v = new Float64Array(1);
    const lr = 0.1;
    adamStep(p, Float64Array.from([2]), m, v, 1, { lr });
    adamStep(p, Float64Array.from([-1]), m, v, 2, { lr });
    const m1 = 0.1 * 2;
    const v1 = 0.001 * 4;
    const p1 = 1 - (lr / (1 - 0.9)) * (m1 / (Math.sqrt(v1) / Math.sqrt(1 - 0.999) + 1e-8));
    const m2 = 0.9 * m1 + 0.1 * -1;
    const v2 = 0.999 * v1 + 0.001 * 1;
    const p2 = p1 - (lr / (1 - 0.81)) * (m2 / (Math.sqrt(v2) / Math.sqrt(1 - 0.999 ** 2) + 1e-8));
    expect(m[0]).toBeCloseTo(m2, 15);
    expect(v[0]).toBeCloseTo(v2, 15);
    expect(p[0]).toBeCloseTo(p2, 14);
  });

  it('eps is added to √v̂, not to √v (matters for tiny gradients)', () => {
    // g = 1e-10: torch gives Δ = lr·g/(|g| + eps) = lr/101; eps before the correction would give
    // lr·g/((|g|·√0.001 + eps)/√0.001) ≈ lr/3163.
    const p = Float64Array.from([0]);
    adamStep(p, Float64Array.from([1e-10]), new Float64Array(1), new Float64Array(1), 1, { lr: 1 });
    expect(p[0]).toBeCloseTo(-1e-10 / (1e-10 + 1e-8), 12);
  });

  it('Adam adds wd·p to the gradient; AdamW decays p by (1 − lr·wd) first', () => {
    const lr = 0.01;
    const wd = 0.5;
    // Adam (L2): g' = g + wd·p = 0.1 + 0.5·(−1) = −0.4 → the step follows sign(g') = −1.
    const pa = Float64Array.from([-1]);
    const g = Float64Array.from([0.1]);
    adamStep(pa, g, new Float64Array(1), new Float64Array(1), 1, { lr, weightDecay: wd, decoupled: false });
    expect(pa[0]).toBeCloseTo(-1 + lr * (0.4 / (0.4 + 1e-8)), 14);
    expect(g[0]).toBe(0.1); // the caller's gradient is untouched
    // AdamW: p ← −1·(1 − 0.005) = −0.995, then Δ = −lr·sign(0.1).
    const pw = Float64Array.from([-1]);
    adamStep(pw, g, new Float64Array(1), new Float64Array(1), 1, { lr, weightDecay: wd, decoupled: true });
    expect(pw[0]).toBeCloseTo(-0.995 - lr * (0.1 / (0.1 + 1e-8)), 14);
  });

  it('lists of tensors behave like the tensors one by one; step 0 is rejected', () => {
    const a = [randomArray(5, 1), randomArray(3, 2)];
    const b = a.map((t) => Float64Array.from(t));
    const g = [randomArray(5, 3), randomArray(3, 4)];
    const hp = { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: true };
    adamStep(a, g, [new Float64Array(5), new Float64Array(3)], [new Float64Array(5), new Float64Array(3)], 1, hp);
    for (let i = 0; i < 2; i++) adamStep(b[i], g[i], new Float64Array(b[i].length), new Float64Array(b[i].length), 1, hp);
    expect(a.map((t) => Array.from(t))).toEqual(b.map((t) => Array.from(t)));
    expect(() => adamStep(a[0], g[0], new Float64Array(5), new Float64Array(5), 0, hp)).toThrow();
  });
});

describe('globalNormClip', () => {
  it('computes the norm over all tensors and scales in place by maxNorm/(norm + 1e-6)', () => {
    const g = [Float64Array.from([3]), Float64Array.from([0, 4])];
    const { norm, scale } = globalNormClip(g, 1);
    expect(norm).toBe(5);
    expect(scale).toBe(1 / (5 + 1e-6));
    expect(g[0][0]).toBeCloseTo(3 / (5 + 1e-6), 15);
    expect(g[1][1]).toBeCloseTo(4 / (5 + 1e-6), 15);
  });

  it('leaves gradients under the limit unchanged (scale clamped to 1)', () => {
    const g = [Float64Array.from([3, 4])];
    expect(globalNormClip(g, 10)).toEqual({ norm: 5, scale: 1 });
    expect(Array.from(g[0])).toEqual([3, 4]);
  });
});

describe('lrSchedule', () => {
  const cfg = { lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
  it('warms up linearly from lr/warmup at step 1 to lr at the last warm-up step', () => {
    expect(lrSchedule(1, cfg)).toBeCloseTo(0.1, 15);
    expect(lrSchedule(5, cfg)).toBeCloseTo(0.5, 15);
    expect(lrSchedule(10, cfg)).toBe(1);
  });
  it('then follows a cosine down to minLr and stays there', () => {
    expect(lrSchedule(60, cfg)).toBeCloseTo(0.55, 15); // halfway: (lr + minLr)/2
    expect(lrSchedule(35, cfg)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(lrSchedule(110, cfg)).toBeCloseTo(0.1, 15);
    expect(lrSchedule(500, cfg)).toBeCloseTo(0.1, 15);
    for (let s = 11; s < 110; s++) expect(lrSchedule(s + 1, cfg)).toBeLessThan(lrSchedule(s, cfg));
  });
  it('no warm-up, default minLr 0, and no decay phase when totalSteps ≤ warmupSteps', () => {
    expect(lrSchedule(1, { lr: 2, warmupSteps: 0, totalSteps: 100 })).toBeCloseTo(2 * 0.5 * (1 + Math.cos(Math.PI / 100)), 15);
    expect(lrSchedule(100, { lr: 2, warmupSteps: 0, totalSteps: 100 })).toBeCloseTo(0, 15);
    expect(lrSchedule(20, { lr: 2, warmupSteps: 10, totalSteps: 5 })).toBe(2);
  });
});
