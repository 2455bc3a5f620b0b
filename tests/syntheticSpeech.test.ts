// The synthetic set's speech-like structure (src/cpc/data/synthetic.ts header): lexical tones are
// realised as f0 contours, which is what makes them invisible to pitch-blind spectral features
// (tests/data.test.ts checks that side) and visible to a model that sees the waveform's periodicity.
import { describe, expect, it } from 'vitest';
import { LABEL_HOP } from '../src/cpc/data/dataset.ts';
import { createSyntheticDataset } from '../src/cpc/data/synthetic.ts';

const WIN = 480; // 30 ms: ≥ 2 periods of the lowest f0 (≈ 67 Hz: 85 Hz × 0.84 rising start × 0.94 register)
const MIN_LAG = 45; // 356 Hz, above the highest f0 (255 Hz × 1.2 × 1.06 ≈ 325 Hz)
const MAX_LAG = 260; // 62 Hz

/** f0 (Hz) of x[s, s + WIN) by the largest normalised autocorrelation over MIN_LAG..MAX_LAG. */
function f0At(x: Float32Array, s: number): number {
  let best = -Infinity, bestLag = MIN_LAG;
  for (let lag = MIN_LAG; lag <= MAX_LAG; lag++) {
    let xy = 0, xx = 0, yy = 0;
    for (let i = 0; i < WIN; i++) { const a = x[s + i]!, b = x[s + i + lag]!; xy += a * b; xx += a * a; yy += b * b; }
    const r = xy / Math.sqrt(xx * yy + 1e-30);
    if (r > best) { best = r; bestLag = lag; }
  }
  return 16000 / bestLag;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('synthetic speech structure', () => {
  it('realises the three lexical tones as level, rising and falling f0 within the phone', () => {
    const ds = createSyntheticDataset({ speakers: 6, utterancesPerSpeaker: 4, utteranceSeconds: 3, seed: 5 });
    const tones = ds.inventory.phones.map((p) => p.tone);
    expect(new Set(tones.filter((t) => t >= 0))).toEqual(new Set([0, 1, 2]));
    const ratios: number[][] = [[], [], []];
    for (const u of [...ds.utterances('train'), ...ds.utterances('test')]) {
      const labels = u.phones!.labels;
      let start = 0;
      for (let f = 1; f <= labels.length; f++) {
        if (f < labels.length && labels[f] === labels[start]) continue;
        const tone = tones[labels[start]!]!;
        // Runs of ≥ 10 frames (100 ms): the two analysis windows at 25 % and 75 % of the run then sit
        // inside it, past the ±15 ms boundary blend and ~1 time constant (20 ms) of f0 smoothing.
        if (tone >= 0 && f - start >= 10) {
          const a = start * LABEL_HOP, b = f * LABEL_HOP;
          const early = Math.round(a + 0.25 * (b - a) - WIN / 2), late = Math.round(a + 0.75 * (b - a) - WIN / 2);
          if (early >= 0 && late + WIN + MAX_LAG <= u.samples.length) ratios[tone]!.push(Math.log(f0At(u.samples, late) / f0At(u.samples, early)));
        }
        start = f;
      }
    }
    for (const r of ratios) expect(r.length).toBeGreaterThan(20);
    const [level, rising, falling] = ratios.map(median) as [number, number, number];
    // Contours (TONES): rising 0.84 → 1.2 gives ln(1.11 / 0.93) = +0.18 between 25 % and 75 %,
    // falling 1.2 → 0.8 gives ln(0.9 / 1.1) = −0.2, level 0; the 20 ms smoothing lags and shrinks
    // them a little. Measured medians (seed 5; 90 / 56 / 68 runs): level +0.011, rising +0.156,
    // falling −0.155. Thresholds at about half the ideal ratios.
    expect(rising).toBeGreaterThan(0.09);
    expect(falling).toBeLessThan(-0.1);
    expect(Math.abs(level)).toBeLessThan(0.04);
  });
});
