// Which audio an encoder frame sees, and the phone label that goes with it.
//
// The encoder is a stack of unpadded strided convolutions, so output frame t of a window that starts
// at sample `start` sees exactly the samples [start + t·hop, start + t·hop + receptiveField), with
//   hop = Π strides,  receptiveField = 1 + Σ_i (kernel_i − 1) · Π_{j<i} stride_j.
// For the default encoder (kernels [10, 8, 4, 4, 4], strides [5, 4, 2, 2, 2]): hop 160, receptive
// field 465, and a window of 20480 samples gives T = 126 frames.
//
// The label of frame t is the phone at the CENTRE of its receptive field, sample
// start + t·hop + floor(receptiveField / 2): the centre is what a symmetric receptive field weighs
// most, and it makes the label independent of how far the field reaches into neighbouring phones.
import { ShapeError } from '../../runtime/errors.ts';
import { LABEL_HOP, type Utterance } from './dataset.ts';

export const DEFAULT_KERNELS = [10, 8, 4, 4, 4] as const;
export const DEFAULT_STRIDES = [5, 4, 2, 2, 2] as const;

export interface EncoderGeometry {
  hop: number;
  receptiveField: number;
}

export function encoderGeometry(kernels: readonly number[] = DEFAULT_KERNELS, strides: readonly number[] = DEFAULT_STRIDES): EncoderGeometry {
  if (kernels.length !== strides.length || kernels.length === 0) {
    throw new ShapeError('encoderGeometry', `kernels and strides must be non-empty and of equal length`, { kernels: [...kernels], strides: [...strides] });
  }
  let hop = 1;
  let rf = 1;
  for (let i = 0; i < kernels.length; i++) {
    const k = kernels[i]!;
    const s = strides[i]!;
    if (!Number.isInteger(k) || k < 1 || !Number.isInteger(s) || s < 1) {
      throw new ShapeError('encoderGeometry', `kernel and stride must be positive integers`, { kernels: [...kernels], strides: [...strides] });
    }
    rf += (k - 1) * hop;
    hop *= s;
  }
  return { hop, receptiveField: rf };
}

/** Frames the encoder produces from L samples (0 when L is shorter than the receptive field). */
export function encoderFrames(L: number, kernels: readonly number[] = DEFAULT_KERNELS, strides: readonly number[] = DEFAULT_STRIDES): number {
  let n = L;
  for (let i = 0; i < kernels.length; i++) {
    if (n < kernels[i]!) return 0;
    n = Math.floor((n - kernels[i]!) / strides[i]!) + 1;
  }
  return n;
}

export interface FrameLabelOptions {
  hop?: number;
  receptiveField?: number;
}

/**
 * Phone label of each of the T encoder frames of the window [start, start + L) of `utt`
 * (see the header comment). Throws when the utterance has no phone labels or a frame's centre lies
 * outside the utterance.
 */
export function frameLabels(utt: Utterance, start: number, T: number, opts: FrameLabelOptions = {}): Uint32Array {
  const hop = opts.hop ?? 160;
  const rf = opts.receptiveField ?? 465;
  const op = 'frameLabels';
  if (!utt.phones) throw new ShapeError(op, `utterance '${utt.id}' has no phone labels`);
  if (!Number.isInteger(start) || start < 0 || !Number.isInteger(T) || T < 0) {
    throw new ShapeError(op, `start and T must be non-negative integers`, { start, T });
  }
  const labels = utt.phones.labels;
  const centre0 = start + Math.floor(rf / 2);
  const lastCentre = centre0 + (T - 1) * hop;
  if (T > 0 && lastCentre >= utt.samples.length) {
    throw new ShapeError(op, `frame ${T - 1} centre (sample ${lastCentre}) is beyond utterance '${utt.id}'`, { start, T, hop, receptiveField: rf, samples: utt.samples.length });
  }
  const out = new Uint32Array(T);
  for (let t = 0; t < T; t++) {
    const f = Math.floor((centre0 + t * hop) / LABEL_HOP);
    if (f >= labels.length) throw new ShapeError(op, `label frame ${f} missing in utterance '${utt.id}'`, { labels: labels.length });
    out[t] = labels[f]!;
  }
  return out;
}
