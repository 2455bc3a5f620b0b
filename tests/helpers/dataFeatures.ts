// Hand-made per-frame features for dataset sanity checks: log energies of a Hann-windowed DFT,
// pooled into bands. Deliberately simple (no learning), so a probe that separates classes from them
// proves the audio itself carries the information, independent of any model.
import { LABEL_HOP, type Utterance } from '../../src/cpc/data/dataset.ts';

export interface BandFeatureOptions {
  /** Analysis window in samples (25 ms). */
  win?: number;
  /** DFT bins evaluated, evenly spaced over (0, 8 kHz). */
  bins?: number;
  /** Bins are summed in groups of this size. */
  group?: number;
}

/** [frames, bins/group] log band energies at the centre of every `stride`-th label frame of `utt`. */
export function bandFeatures(utt: Utterance, stride: number, opts: BandFeatureOptions = {}): { features: Float32Array; frames: number[]; dim: number } {
  const win = opts.win ?? 400;
  const bins = opts.bins ?? 64;
  const group = opts.group ?? 2;
  const dim = bins / group;
  const cos = new Float64Array(bins * win);
  const sin = new Float64Array(bins * win);
  for (let k = 0; k < bins; k++) {
    const f = (k + 0.5) / (2 * bins); // cycles per sample in (0, 0.5)
    for (let i = 0; i < win; i++) {
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (win - 1));
      cos[k * win + i] = hann * Math.cos(2 * Math.PI * f * i);
      sin[k * win + i] = hann * Math.sin(2 * Math.PI * f * i);
    }
  }
  const x = utt.samples;
  const nFrames = Math.floor(x.length / LABEL_HOP);
  const frames: number[] = [];
  for (let f = 0; f < nFrames; f += stride) {
    const s = f * LABEL_HOP + LABEL_HOP / 2 - win / 2;
    if (s >= 0 && s + win <= x.length) frames.push(f);
  }
  const out = new Float32Array(frames.length * dim);
  frames.forEach((f, r) => {
    const s = f * LABEL_HOP + LABEL_HOP / 2 - win / 2;
    for (let k = 0; k < bins; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < win; i++) { const v = x[s + i]!; re += v * cos[k * win + i]!; im += v * sin[k * win + i]!; }
      out[r * dim + Math.floor(k / group)] += re * re + im * im;
    }
    for (let d = 0; d < dim; d++) out[r * dim + d] = Math.log(out[r * dim + d]! + 1e-10);
  });
  return { features: out, frames, dim };
}
