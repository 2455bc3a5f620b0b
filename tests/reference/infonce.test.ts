import { describe, expect, it } from 'vitest';
import {
  infoNceBackward,
  infoNceForward,
  negativeIndex,
  pcgHash,
  sampleNegatives,
  type InfoNceDims,
  type InfoNceMode,
} from './infonce.ts';
import { assertGradientClose } from './finiteDifference.ts';
import { mulberry32, randomArray, randomInt } from './random.ts';

// Finite-difference tolerance: the loss is a mean of logsumexp − score terms, smooth, |L| ≈ 1–3,
// with O(1) scores so every derivative is O(1). h = 1e-6: truncation ≈ h²/6·|L'''| ≈ 1e-12,
// rounding ≈ ε·|L|/h ≈ 1e-9. rtol 1e-6, atol 1e-8 keeps a ≥ 10× margin; a wrong row weight
// (e.g. 1/(B·T) instead of 1/(B·(T−k))) or a missed candidate is off by ≥ 1e-2.
const TOL = { rtol: 1e-6, atol: 1e-8 };

interface Problem {
  z: Float64Array;
  c: Float64Array;
  predW: Float64Array[];
  predB: Float64Array[] | null;
  dims: InfoNceDims;
}

function problem(dims: InfoNceDims, withBias: boolean, seed: number): Problem {
  const { B, T, C, H, K } = dims;
  return {
    z: randomArray(B * T * C, seed, 0.7),
    c: randomArray(B * T * H, seed + 1, 0.7),
    predW: Array.from({ length: K }, (_, k) => randomArray(C * H, seed + 10 + k, 1 / Math.sqrt(H))),
    predB: withBias ? Array.from({ length: K }, (_, k) => randomArray(C, seed + 20 + k, 0.3)) : null,
    dims,
  };
}

const lossOf = (p: Problem, mode: InfoNceMode) => infoNceForward(p.z, p.c, p.predW, p.predB, p.dims, mode);

/** Random negatives, with some positives planted to exercise "a sample equal to the positive stays". */
function negativesWithPositives(dims: InfoNceDims, n: number, seed: number): Uint32Array {
  const { B, T, K } = dims;
  const rng = mulberry32(seed);
  const idx = new Uint32Array(K * B * T * n);
  for (let k = 1; k <= K; k++) {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const base = (((k - 1) * B + b) * T + t) * n;
        for (let j = 0; j < n; j++) idx[base + j] = randomInt(rng, B * T);
        if (t + k < T && (b + t) % 2 === 0) idx[base + (t % n)] = b * T + t + k;
      }
    }
  }
  return idx;
}

describe('infoNce forward', () => {
  it('all-zero scores give loss = log(#candidates) exactly and accuracy 1 (ties count)', () => {
    const dims: InfoNceDims = { B: 3, T: 5, C: 4, H: 2, K: 2 };
    const p = problem(dims, false, 1);
    p.predW.forEach((w) => w.fill(0)); // every prediction 0 → every score 0
    const n = 6;
    const cases: [InfoNceMode, number][] = [
      [{ kind: 'batch' }, 3],
      [{ kind: 'batch-time' }, 15],
      [{ kind: 'sampled', n, negIdx: sampleNegatives(9, dims, n) }, n + 1],
    ];
    for (const [mode, count] of cases) {
      const r = lossOf(p, mode);
      // Each valid row is exactly log(count): max = 0, Σ exp(0) = count, log(count) − 0.
      const { B, T, K } = dims;
      for (let k = 1; k <= K; k++) {
        for (let b = 0; b < B; b++) {
          for (let t = 0; t + k < T; t++) expect(r.rowLoss[((k - 1) * B + b) * T + t]).toBe(Math.log(count));
        }
      }
      // The means sum ≤ 12 equal terms then divide: a few ulps of rounding at most.
      expect(Math.abs(r.loss - Math.log(count))).toBeLessThan(1e-15 * 8);
      for (const l of r.lossPerK) expect(Math.abs(l - Math.log(count))).toBeLessThan(1e-15 * 8);
      expect(Array.from(r.accPerK)).toEqual([1, 1]);
    }
  });

  it('by hand: B=2, T=2, C=H=1, K=1 in batch and batch-time modes', () => {
    // z(b, t): z(0,0)=0.5, z(0,1)=1, z(1,0)=−1, z(1,1)=2; c(0,0)=1, c(1,0)=−0.5; W_1 = 2.
    // Rows exist only for t = 0. Predictions p(0,0) = 2, p(1,0) = −1.
    const dims: InfoNceDims = { B: 2, T: 2, C: 1, H: 1, K: 1 };
    const z = Float64Array.from([0.5, 1, -1, 2]);
    const c = Float64Array.from([1, 0, -0.5, 0]);
    const W = [Float64Array.from([2])];
    const lse = (...s: number[]) => Math.log(s.reduce((a, v) => a + Math.exp(v), 0));
    // batch: row b=0 candidates z(0,1)=1, z(1,1)=2 → scores 2, 4, positive 2;
    //        row b=1 candidates → scores −1, −2, positive −2.
    const lBatch = [lse(2, 4) - 2, lse(-1, -2) + 2];
    const rb = infoNceForward(z, c, W, null, dims, { kind: 'batch' });
    expect(rb.loss).toBeCloseTo((lBatch[0] + lBatch[1]) / 2, 14);
    expect(rb.rowLoss[0]).toBeCloseTo(lBatch[0], 14);
    expect(rb.rowLoss[2]).toBeCloseTo(lBatch[1], 14);
    expect(rb.rowLoss[1]).toBe(0); // t = 1 has no t + 1 < T
    expect(rb.rowLse[0]).toBeCloseTo(lse(2, 4), 14);
    expect(rb.accPerK[0]).toBe(0); // both positives lose to the other sequence
    // batch-time: all four frames are candidates: scores p·(0.5, 1, −1, 2).
    const lBT = [lse(1, 2, -2, 4) - 2, lse(-0.5, -1, 1, -2) + 2];
    const rt = infoNceForward(z, c, W, null, dims, { kind: 'batch-time' });
    expect(rt.loss).toBeCloseTo((lBT[0] + lBT[1]) / 2, 14);
    expect(rt.accPerK[0]).toBe(0);
    expect(Array.from(rt.preds)).toEqual([2, 0, -1, 0]);
  });

  it('each step k weighs the same: loss = mean_k (mean over its B·(T−k) rows)', () => {
    const dims: InfoNceDims = { B: 2, T: 5, C: 3, H: 2, K: 3 };
    const p = problem(dims, true, 3);
    const r = lossOf(p, { kind: 'batch-time' });
    const { B, T, K } = dims;
    let total = 0;
    for (let k = 1; k <= K; k++) {
      let s = 0;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const v = r.rowLoss[((k - 1) * B + b) * T + t];
          if (t + k < T) s += v;
          else expect(v).toBe(0);
        }
      }
      expect(r.lossPerK[k - 1]).toBeCloseTo(s / (B * (T - k)), 14);
      total += s / (B * (T - k));
    }
    expect(r.loss).toBeCloseTo(total / K, 14);
    // … which is not the plain mean over all valid rows when K > 1.
    let rows = 0;
    let sum = 0;
    for (let k = 1; k <= K; k++) {
      rows += B * (T - k);
      sum += r.lossPerK[k - 1] * B * (T - k);
    }
    expect(Math.abs(r.loss - sum / rows)).toBeGreaterThan(1e-6);
  });

  it('sampled with the other sequences as negatives equals batch mode; with every other frame equals batch-time', () => {
    const dims: InfoNceDims = { B: 3, T: 4, C: 5, H: 3, K: 2 };
    const p = problem(dims, true, 5);
    const { B, T, K } = dims;
    const asBatch = new Uint32Array(K * B * T * (B - 1));
    const asAll = new Uint32Array(K * B * T * (B * T - 1));
    for (let k = 1; k <= K; k++) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t + k < T; t++) {
          const row = ((k - 1) * B + b) * T + t;
          let j = 0;
          for (let bb = 0; bb < B; bb++) if (bb !== b) asBatch[row * (B - 1) + j++] = bb * T + t + k;
          j = 0;
          for (let f = 0; f < B * T; f++) if (f !== b * T + t + k) asAll[row * (B * T - 1) + j++] = f;
        }
      }
    }
    const pairs: [InfoNceMode, InfoNceMode][] = [
      [{ kind: 'batch' }, { kind: 'sampled', n: B - 1, negIdx: asBatch }],
      [{ kind: 'batch-time' }, { kind: 'sampled', n: B * T - 1, negIdx: asAll }],
    ];
    for (const [ref, sampled] of pairs) {
      const a = lossOf(p, ref);
      const s = lossOf(p, sampled);
      expect(s.loss).toBeCloseTo(a.loss, 13);
      expect(Array.from(s.accPerK)).toEqual(Array.from(a.accPerK));
      const ga = infoNceBackward(p.z, p.c, p.predW, p.predB, dims, ref);
      const gs = infoNceBackward(p.z, p.c, p.predW, p.predB, dims, sampled);
      for (let i = 0; i < ga.dz.length; i++) expect(gs.dz[i]).toBeCloseTo(ga.dz[i], 13);
      for (let i = 0; i < ga.dc.length; i++) expect(gs.dc[i]).toBeCloseTo(ga.dc[i], 13);
    }
  });

  it('a sampled duplicate of the positive stays a negative', () => {
    // One valid row, C = H = 1: positive score s, two samples both equal to the positive.
    const dims: InfoNceDims = { B: 1, T: 2, C: 1, H: 1, K: 1 };
    const z = Float64Array.from([0, 1.5]);
    const c = Float64Array.from([2, 0]);
    const W = [Float64Array.from([1])];
    const negIdx = Uint32Array.from([1, 1, 0, 0]); // row t=0: both samples = frame 1 (the positive)
    const r = infoNceForward(z, c, W, null, dims, { kind: 'sampled', n: 2, negIdx });
    expect(r.loss).toBeCloseTo(Math.log(3), 14); // three equal scores
    expect(r.accPerK[0]).toBe(1);
  });

  it('accuracy counts rows where the positive beats every other candidate', () => {
    // B = 2, T = 2, C = H = 1: p(0,0) = 1 picks the larger frame, p(1,0) = 1 too.
    const dims: InfoNceDims = { B: 2, T: 2, C: 1, H: 1, K: 1 };
    const z = Float64Array.from([0, 3, 0, 1]); // frames at t = 1: z(0,1) = 3, z(1,1) = 1
    const c = Float64Array.from([1, 0, 1, 0]);
    const r = infoNceForward(z, c, [Float64Array.from([1])], null, dims, { kind: 'batch' });
    expect(r.accPerK[0]).toBe(0.5); // row b=0 right (3 > 1), row b=1 wrong (1 < 3)
  });

  it('scores of magnitude 1e4 give a finite, exact loss and finite gradients', () => {
    const dims: InfoNceDims = { B: 2, T: 2, C: 1, H: 1, K: 1 };
    const z = Float64Array.from([0, 100, 0, -100]);
    const c = Float64Array.from([100, 0, -100, 0]);
    const W = [Float64Array.from([1])];
    // Row b=0: p = 100, candidates z(0,1) = 100 (pos), z(1,1) = −100 → scores (1e4, −1e4),
    //   ℓ = log(1 + e^(−2e4)) = 0 in float64 (a naive exp(1e4) would be Infinity).
    // Row b=1: p = −100 → scores (−1e4, 1e4) with the positive z(1,1) = −100 scoring 1e4 → ℓ = 0.
    const r = infoNceForward(z, c, W, null, dims, { kind: 'batch' });
    expect(r.loss).toBe(0);
    const zBad = Float64Array.from([0, -100, 0, 100]); // positives now score −1e4, negatives +1e4
    const rb = infoNceForward(zBad, c, W, null, dims, { kind: 'batch' });
    expect(rb.loss).toBe(2e4); // lse = 1e4 + log(1 + e^(−2e4)) = 1e4, minus −1e4
    for (const mode of [{ kind: 'batch' }, { kind: 'batch-time' }] as InfoNceMode[]) {
      const g = infoNceBackward(zBad, c, W, null, dims, mode);
      expect(g.dz.every(Number.isFinite) && g.dc.every(Number.isFinite) && g.dPredW[0].every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(infoNceForward(zBad, c, W, null, dims, mode).loss)).toBe(true);
    }
  });

  it('rejects K ≥ T and malformed negIdx', () => {
    const p = problem({ B: 1, T: 3, C: 2, H: 2, K: 3 }, false, 1);
    expect(() => lossOf(p, { kind: 'batch' })).toThrow();
    const q = problem({ B: 1, T: 3, C: 2, H: 2, K: 1 }, false, 1);
    expect(() => lossOf(q, { kind: 'sampled', n: 2, negIdx: new Uint32Array(5) })).toThrow();
    expect(() => lossOf(q, { kind: 'sampled', n: 1, negIdx: Uint32Array.from([0, 3, 0]) })).toThrow(/negIdx 3/);
  });
});

describe('infoNce backward vs central differences', () => {
  const shapes: InfoNceDims[] = [
    { B: 1, T: 6, C: 5, H: 3, K: 1 },
    { B: 3, T: 6, C: 5, H: 3, K: 3 },
    { B: 2, T: 4, C: 3, H: 2, K: 3 },
  ];
  const modes = (dims: InfoNceDims): InfoNceMode[] => [
    { kind: 'batch' },
    { kind: 'batch-time' },
    { kind: 'sampled', n: 4, negIdx: negativesWithPositives(dims, 4, 17) },
    { kind: 'sampled', n: 3, negIdx: sampleNegatives(123, dims, 3) },
  ];
  for (const dims of shapes) {
    for (const mode of modes(dims)) {
      for (const withBias of [false, true]) {
        // B = 1 in batch mode has a single candidate: loss ≡ 0, nothing to check.
        if (dims.B === 1 && mode.kind === 'batch') continue;
        const label = `${JSON.stringify(dims)} ${mode.kind}${mode.kind === 'sampled' ? ` n=${mode.n}` : ''} bias=${withBias}`;
        it(label, () => {
          const p = problem(dims, withBias, 100 + dims.B + dims.K);
          const f = () => lossOf(p, mode).loss;
          const dLoss = 1.7; // a non-unit upstream gradient, to check it is applied exactly once
          const g = infoNceBackward(p.z, p.c, p.predW, p.predB, dims, mode, dLoss);
          const fs = () => dLoss * f();
          assertGradientClose('dz', fs, p.z, g.dz, TOL);
          assertGradientClose('dc', fs, p.c, g.dc, TOL);
          p.predW.forEach((w, k) => assertGradientClose(`dPredW[${k}]`, fs, w, g.dPredW[k], TOL));
          if (withBias) p.predB!.forEach((b, k) => assertGradientClose(`dPredB[${k}]`, fs, b, g.dPredB![k], TOL));
          else expect(g.dPredB).toBeNull();
          // dPreds is the gradient wrt the predictions themselves: check it through the bias
          // identity dL/db_k = Σ_{b,t} dPreds[k,b,t,:], and zero on invalid rows.
          const { B, T, C, K } = dims;
          if (withBias) {
            for (let k = 0; k < K; k++) {
              for (let i = 0; i < C; i++) {
                let s = 0;
                for (let bt = 0; bt < B * T; bt++) s += g.dPreds[(k * B * T + bt) * C + i];
                expect(s).toBeCloseTo(g.dPredB![k][i], 14);
              }
            }
          }
          for (let k = 1; k <= K; k++) {
            for (let b = 0; b < B; b++) {
              for (let t = T - k; t < T; t++) {
                for (let i = 0; i < C; i++) expect(g.dPreds[(((k - 1) * B + b) * T + t) * C + i]).toBe(0);
              }
            }
          }
        });
      }
    }
  }
});

describe('sampleNegatives', () => {
  // Independent BigInt implementation of the PCG hash (Jarzynski & Olano 2020), to check the
  // Math.imul / >>> 0 arithmetic bit for bit.
  const M = (1n << 32n) - 1n;
  const pcgRef = (v: number): number => {
    const state = (BigInt(v >>> 0) * 747796405n + 2891336453n) & M;
    const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & M;
    return Number((word >> 22n) ^ word);
  };

  it('pcgHash matches a BigInt reference', () => {
    const rng = mulberry32(77);
    const inputs = [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 12345678];
    for (let i = 0; i < 2000; i++) inputs.push(Math.floor(rng() * 2 ** 32));
    for (const v of inputs) expect(pcgHash(v)).toBe(pcgRef(v));
  });

  it('implements the documented formula and layout [K, B, T, n]', () => {
    const dims = { B: 3, T: 7, K: 2 };
    const n = 5;
    const idx = sampleNegatives(42, dims, n);
    expect(idx.length).toBe(2 * 3 * 7 * 5);
    for (let row = 0; row < 42; row++) {
      for (let j = 0; j < n; j++) {
        const h = pcgRef((pcgRef((pcgRef(42) ^ row) >>> 0) ^ j) >>> 0);
        expect(idx[row * n + j]).toBe(h % 21);
        expect(negativeIndex(42, row, j, 21)).toBe(h % 21);
      }
    }
  });

  it('shared: row ((k−1)·B + b)·T + t hashes its position b·T + t, so all k of a position draw the same set', () => {
    const dims = { B: 3, T: 7, K: 4 };
    const n = 5, frames = 21;
    const idx = sampleNegatives(42, dims, n, true);
    expect(idx.length).toBe(4 * 21 * 5);
    for (let row = 0; row < 4 * 21; row++) {
      for (let j = 0; j < n; j++) {
        const h = pcgRef((pcgRef((pcgRef(42) ^ (row % frames)) >>> 0) ^ j) >>> 0);
        expect(idx[row * n + j]).toBe(h % frames);
      }
    }
    // k = 1 is the per-row draw itself (its rows are the positions); later k differ from per-row.
    const perRow = sampleNegatives(42, dims, n);
    expect(Array.from(idx.subarray(0, frames * n))).toEqual(Array.from(perRow.subarray(0, frames * n)));
    expect(Array.from(idx.subarray(frames * n))).not.toEqual(Array.from(perRow.subarray(frames * n)));
  });

  it('is deterministic, seed-dependent, in range and close to uniform', () => {
    const dims = { B: 4, T: 16, K: 3 };
    const n = 64;
    const a = sampleNegatives(1, dims, n);
    expect(Array.from(a)).toEqual(Array.from(sampleNegatives(1, dims, n)));
    const b = sampleNegatives(2, dims, n);
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
    expect(same / a.length).toBeLessThan(0.05); // ≈ 1/64 expected by chance
    const frames = 64;
    const counts = new Float64Array(frames);
    for (const v of a) {
      expect(v).toBeLessThan(frames);
      counts[v]++;
    }
    // 12288 draws over 64 bins: expected 192 each, sd ≈ 13.8; Pearson χ² with 63 dof has mean 63,
    // sd ≈ 11.2 — a bound of 130 (6 sd) fails only for a broken sampler.
    const e = a.length / frames;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(130);
  });
});
