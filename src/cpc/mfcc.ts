// MFCC baseline features (the CPC paper's "MFCC" rows): 13 cepstra + Δ + ΔΔ = 39 per 10 ms frame.
// Definition (HTK-style, stated so the numbers can be reproduced elsewhere):
//   frames     400 samples (25 ms at 16 kHz), hop 160 (10 ms), no padding: frame j covers
//              [160j, 160j + 400); a window of L samples gives ⌊(L − 400)/160⌋ + 1 frames
//   per frame  remove the frame mean (DC), pre-emphasis y[n] = x[n] − 0.97·x[n−1] (y[0] = x[0]·0.03),
//              Hamming window 0.54 − 0.46·cos(2πn/399), zero-pad to 512, power spectrum |X_k|², k = 0..256
//   mel        40 triangular filters on the HTK mel scale m = 2595·log10(1 + f/700), 0 … 8000 Hz,
//              edges equally spaced in mel, weights evaluated at each bin's frequency k·16000/512
//   log        ln(max(energy, 1e-10))
//   cepstra    DCT-II, orthonormal, of the 40 log energies; coefficients 0..12 (c0 kept)
//   Δ, ΔΔ      HTK regression d_t = Σ_{n=1..2} n·(c_{t+n} − c_{t−n}) / (2·Σ n²) = /10, with the first
//              and last frame repeated at the edges; ΔΔ = Δ of Δ
// Layout [F, 39]: c0..c12, Δc0..Δc12, ΔΔc0..ΔΔc12. Browser-safe; tests/reference/mfcc.ts is the
// float64 definition with a naive DFT, checked against this FFT version in tests/mfcc.test.ts.
import { ShapeError } from '../runtime/errors.ts';

export const MFCC_FRAME = 400;
export const MFCC_HOP = 160;
export const MFCC_FFT = 512;
export const MFCC_MELS = 40;
export const MFCC_CEPS = 13;
export const MFCC_DIM = 3 * MFCC_CEPS;
const SR = 16000;
const PREEMPH = 0.97;
const LOG_FLOOR = 1e-10;

/** Frames of a signal of n samples (0 when shorter than one frame). */
export function mfccFrames(n: number): number {
  return n < MFCC_FRAME ? 0 : Math.floor((n - MFCC_FRAME) / MFCC_HOP) + 1;
}

/** First sample of frame j's centre (for aligning frame labels): 160j + 200. */
export function mfccFrameCentre(j: number): number {
  return j * MFCC_HOP + MFCC_FRAME / 2;
}

interface Tables {
  hamming: Float64Array;
  /** [MELS, FFT/2 + 1] filter weights. */
  mel: Float64Array;
  /** [CEPS, MELS] orthonormal DCT-II rows. */
  dct: Float64Array;
  cos: Float64Array;
  sin: Float64Array;
  bitrev: Uint32Array;
}

let tables: Tables | null = null;

function hzToMel(f: number): number { return 2595 * Math.log10(1 + f / 700); }
function melToHz(m: number): number { return 700 * (10 ** (m / 2595) - 1); }

function buildTables(): Tables {
  const hamming = Float64Array.from({ length: MFCC_FRAME }, (_, n) => 0.54 - 0.46 * Math.cos((2 * Math.PI * n) / (MFCC_FRAME - 1)));
  const bins = MFCC_FFT / 2 + 1;
  const mel = new Float64Array(MFCC_MELS * bins);
  const top = hzToMel(SR / 2);
  const edges = Array.from({ length: MFCC_MELS + 2 }, (_, i) => melToHz((top * i) / (MFCC_MELS + 1)));
  for (let m = 0; m < MFCC_MELS; m++) {
    const [lo, mid, hi] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
    for (let k = 0; k < bins; k++) {
      const f = (k * SR) / MFCC_FFT;
      const w = f <= lo || f >= hi ? 0 : f <= mid ? (f - lo) / (mid - lo) : (hi - f) / (hi - mid);
      mel[m * bins + k] = w;
    }
  }
  const dct = new Float64Array(MFCC_CEPS * MFCC_MELS);
  for (let c = 0; c < MFCC_CEPS; c++) {
    const scale = Math.sqrt((c === 0 ? 1 : 2) / MFCC_MELS);
    for (let m = 0; m < MFCC_MELS; m++) dct[c * MFCC_MELS + m] = scale * Math.cos((Math.PI * c * (m + 0.5)) / MFCC_MELS);
  }
  const half = MFCC_FFT / 2;
  const cos = Float64Array.from({ length: half }, (_, k) => Math.cos((2 * Math.PI * k) / MFCC_FFT));
  const sin = Float64Array.from({ length: half }, (_, k) => -Math.sin((2 * Math.PI * k) / MFCC_FFT));
  const bits = Math.log2(MFCC_FFT);
  const bitrev = Uint32Array.from({ length: MFCC_FFT }, (_, i) => {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    return r;
  });
  return { hamming, mel, dct, cos, sin, bitrev };
}

/** In-place iterative radix-2 complex FFT (length MFCC_FFT). */
function fft(re: Float64Array, im: Float64Array, t: Tables): void {
  const n = MFCC_FFT;
  for (let i = 0; i < n; i++) {
    const j = t.bitrev[i]!;
    if (j > i) { [re[i], re[j]] = [re[j]!, re[i]!]; [im[i], im[j]] = [im[j]!, im[i]!]; }
  }
  for (let size = 2; size <= n; size *= 2) {
    const halfSize = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < halfSize; k++) {
        const wr = t.cos[k * step]!, wi = t.sin[k * step]!;
        const a = start + k, b = a + halfSize;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr; im[b] = im[a]! - xi;
        re[a] = re[a]! + xr; im[a] = im[a]! + xi;
      }
    }
  }
}

function deltas(x: Float64Array, F: number, D: number, stride: number, inOff: number, outOff: number): void {
  for (let t = 0; t < F; t++) {
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let n = 1; n <= 2; n++) {
        const a = Math.min(F - 1, t + n), b = Math.max(0, t - n);
        s += n * (x[a * stride + inOff + d]! - x[b * stride + inOff + d]!);
      }
      x[t * stride + outOff + d] = s / 10;
    }
  }
}

/** MFCC + Δ + ΔΔ of a 16 kHz signal: [F, 39] row-major (see the header for the definition). */
export function mfcc(signal: Float32Array | Float64Array): { features: Float32Array; frames: number } {
  const F = mfccFrames(signal.length);
  if (F === 0) throw new ShapeError('mfcc', `signal of ${signal.length} samples is shorter than one ${MFCC_FRAME}-sample frame`, { samples: signal.length });
  const t = (tables ??= buildTables());
  const bins = MFCC_FFT / 2 + 1;
  const all = new Float64Array(F * MFCC_DIM);
  const re = new Float64Array(MFCC_FFT), im = new Float64Array(MFCC_FFT);
  const logMel = new Float64Array(MFCC_MELS);
  for (let j = 0; j < F; j++) {
    const o = j * MFCC_HOP;
    let mean = 0;
    for (let n = 0; n < MFCC_FRAME; n++) mean += signal[o + n]!;
    mean /= MFCC_FRAME;
    re.fill(0); im.fill(0);
    let prev = signal[o]! - mean;
    re[0] = prev * (1 - PREEMPH) * t.hamming[0]!;
    for (let n = 1; n < MFCC_FRAME; n++) {
      const v = signal[o + n]! - mean;
      re[n] = (v - PREEMPH * prev) * t.hamming[n]!;
      prev = v;
    }
    fft(re, im, t);
    for (let m = 0; m < MFCC_MELS; m++) {
      let e = 0;
      for (let k = 0; k < bins; k++) {
        const w = t.mel[m * bins + k]!;
        if (w !== 0) e += w * (re[k]! * re[k]! + im[k]! * im[k]!);
      }
      logMel[m] = Math.log(Math.max(e, LOG_FLOOR));
    }
    for (let c = 0; c < MFCC_CEPS; c++) {
      let s = 0;
      for (let m = 0; m < MFCC_MELS; m++) s += t.dct[c * MFCC_MELS + m]! * logMel[m]!;
      all[j * MFCC_DIM + c] = s;
    }
  }
  deltas(all, F, MFCC_CEPS, MFCC_DIM, 0, MFCC_CEPS);
  deltas(all, F, MFCC_CEPS, MFCC_DIM, MFCC_CEPS, 2 * MFCC_CEPS);
  return { features: Float32Array.from(all), frames: F };
}
