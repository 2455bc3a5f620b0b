// The browser-safe MFCC (FFT) against the float64 reference (naive DFT), plus properties any MFCC
// of this definition must have.
import { describe, expect, it } from 'vitest';
import { mfcc, mfccFrames, MFCC_DIM } from '../src/cpc/mfcc.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { referenceMfcc } from './reference/mfcc.ts';

function testSignal(n: number, seed: number): Float32Array {
  // A chirp + two harmonics + noise: energy across the whole band, so every mel filter is exercised.
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / 16000;
    return 0.3 * Math.sin(2 * Math.PI * (200 + 3000 * t) * t) + 0.1 * Math.sin(2 * Math.PI * 1234 * t) + 0.05 * rng.normal();
  });
}

describe('mfcc', () => {
  it('matches the naive-DFT float64 reference', () => {
    const x = testSignal(400 + 160 * 11 + 37, 3);
    const { features, frames } = mfcc(x);
    const ref = referenceMfcc(x);
    expect(frames).toBe(12);
    expect(ref).toHaveLength(12);
    expect(features).toHaveLength(12 * MFCC_DIM);
    // Tolerance: the features are stored as float32 (relative 6e-8) of values |c| ≲ 50; the FFT's
    // float64 rounding (~1e-13 relative on the power) is negligible. So |Δ| ≤ 1e-6·(1 + |ref|)
    // holds a correct implementation by ~10×; a wrong filter edge, window or DCT scale moves
    // coefficients by ≥ 1e-2.
    let worst = 0;
    for (let j = 0; j < frames; j++) {
      for (let d = 0; d < MFCC_DIM; d++) {
        const r = ref[j]![d]!;
        worst = Math.max(worst, Math.abs(features[j * MFCC_DIM + d]! - r) / (1 + Math.abs(r)));
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('frame count, gain invariance of c1.. and shorter-than-a-frame input', () => {
    expect(mfccFrames(399)).toBe(0);
    expect(mfccFrames(400)).toBe(1);
    expect(mfccFrames(20480)).toBe(126);
    const x = testSignal(4000, 5);
    const a = mfcc(x).features;
    const b = mfcc(x.map((v) => v * 4)).features;
    // A gain g adds ln(g²)·√40 to c0 only (orthonormal DCT of a constant), and nothing to c1..c12
    // or any Δ (the edges of the log floor are never reached at this level).
    for (let j = 0; j < a.length / MFCC_DIM; j++) {
      expect(b[j * MFCC_DIM]! - a[j * MFCC_DIM]!).toBeCloseTo(Math.log(16) * Math.sqrt(40), 3);
      for (let d = 1; d < MFCC_DIM; d++) expect(Math.abs(b[j * MFCC_DIM + d]! - a[j * MFCC_DIM + d]!)).toBeLessThan(1e-3);
    }
    expect(() => mfcc(new Float32Array(100))).toThrow(/shorter than one 400-sample frame/);
  });
});
