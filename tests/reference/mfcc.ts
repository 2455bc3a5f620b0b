// Float64 reference MFCC (the definition in src/cpc/mfcc.ts, written out directly): a naive O(N²)
// DFT instead of the FFT, filters and DCT computed inline per use. [F, 39] row-major.

const FRAME = 400, HOP = 160, NFFT = 512, MELS = 40, CEPS = 13, SR = 16000;

const mel = (f: number) => 2595 * Math.log10(1 + f / 700);
const hz = (m: number) => 700 * (Math.pow(10, m / 2595) - 1);

function filterWeight(m: number, f: number): number {
  const step = mel(SR / 2) / (MELS + 1);
  const lo = hz(step * m), mid = hz(step * (m + 1)), hi = hz(step * (m + 2));
  if (f > lo && f <= mid) return (f - lo) / (mid - lo);
  if (f > mid && f < hi) return (hi - f) / (hi - mid);
  return 0;
}

export function referenceMfcc(signal: ArrayLike<number>): Float64Array[] {
  const F = signal.length < FRAME ? 0 : Math.floor((signal.length - FRAME) / HOP) + 1;
  const ceps: Float64Array[] = [];
  for (let j = 0; j < F; j++) {
    const x = Array.from({ length: FRAME }, (_, n) => signal[j * HOP + n]!);
    const mu = x.reduce((s, v) => s + v, 0) / FRAME;
    const c = x.map((v) => v - mu);
    const frame = c.map((v, n) => (n === 0 ? v * (1 - 0.97) : v - 0.97 * c[n - 1]!) * (0.54 - 0.46 * Math.cos((2 * Math.PI * n) / (FRAME - 1))));
    const power: number[] = [];
    for (let k = 0; k <= NFFT / 2; k++) {
      let re = 0, im = 0;
      for (let n = 0; n < FRAME; n++) {
        re += frame[n]! * Math.cos((2 * Math.PI * k * n) / NFFT);
        im -= frame[n]! * Math.sin((2 * Math.PI * k * n) / NFFT);
      }
      power.push(re * re + im * im);
    }
    const logE = Array.from({ length: MELS }, (_, m) => {
      let e = 0;
      for (let k = 0; k <= NFFT / 2; k++) e += filterWeight(m, (k * SR) / NFFT) * power[k]!;
      return Math.log(Math.max(e, 1e-10));
    });
    const row = new Float64Array(3 * CEPS);
    for (let q = 0; q < CEPS; q++) {
      let s = 0;
      for (let m = 0; m < MELS; m++) s += logE[m]! * Math.cos((Math.PI * q * (2 * m + 1)) / (2 * MELS));
      row[q] = s * Math.sqrt((q === 0 ? 1 : 2) / MELS);
    }
    ceps.push(row);
  }
  const delta = (from: number, to: number) => {
    for (let t = 0; t < F; t++) {
      for (let q = 0; q < CEPS; q++) {
        const at = (u: number) => ceps[Math.min(F - 1, Math.max(0, u))]![from + q]!;
        ceps[t]![to + q] = (1 * (at(t + 1) - at(t - 1)) + 2 * (at(t + 2) - at(t - 2))) / 10;
      }
    }
  };
  delta(0, CEPS);
  delta(CEPS, 2 * CEPS);
  return ceps;
}
