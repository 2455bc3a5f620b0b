// Feature export: one feature matrix [F, D] per audio file, 10 ms frames (frame f sees samples
// [160f, 160f + receptiveField) — 465 for the default encoder), from a model that only encodes fixed
// windows of L samples (B at a time). Browser-safe: the CLI `cpc-webgpu encode` writes the files.
//
// F = encoderFrames(n) for a file of n samples: exactly the frames a whole-file convolution gives.
// Windows start at multiples of the frame hop, so window frames line up with file frames:
//   z (encoder output): convolutions are local, so windows tile the file back to back (stride T
//     frames) and every frame equals the whole-file z exactly.
//   c (GRU context): the GRU restarts from h = 0 at each window, so windows overlap by half
//     (stride ⌊T/2⌋) and each window after the first contributes only its second half: every frame
//     of the first window equals the whole-file GRU; every later frame has ≥ T − ⌊T/2⌋ frames
//     (0.63 s for small) of history instead of all of it.
// The last window is moved back to end at frame F; a file shorter than L is zero-padded (padding lies
// after every kept frame's receptive field, and the GRU is causal, so kept frames are unaffected).
import { ShapeError } from '../runtime/errors.ts';
import type { CpcTrainConfig } from './config.ts';
import { encoderFrames, encoderGeometry } from './data/frames.ts';

export type FeatureLayer = 'z' | 'c';

/** What encodeFeatures needs: a CpcTrainer satisfies it. */
export interface WindowEncoder {
  readonly config: CpcTrainConfig;
  /** T frames per window of config.window samples. */
  readonly frames: number;
  /** z [B, T, C], c [B, T, H] for a [B·L] batch. */
  encode(signal: Float32Array): Promise<{ z: Float32Array; c: Float32Array }>;
}

export interface FileFeatures {
  /** [frames, dim] row-major. */
  features: Float32Array;
  frames: number;
  dim: number;
  layer: FeatureLayer;
  /** Samples between frames (160 = 10 ms at 16 kHz) and samples each frame sees. */
  hop: number;
  receptiveField: number;
}

/** Window start frames and, per window, the first of its frames that is kept. */
export function featureWindows(F: number, T: number, layer: FeatureLayer): { start: number; keepFrom: number }[] {
  const stride = layer === 'z' ? T : Math.max(1, Math.floor(T / 2));
  const out: { start: number; keepFrom: number }[] = [];
  let covered = 0;
  for (let start = 0; covered < F; start += stride) {
    const s = Math.max(0, Math.min(start, F - T));
    out.push({ start: s, keepFrom: covered - s });
    covered = Math.min(F, s + T);
  }
  return out;
}

export async function encodeFeatures(model: WindowEncoder, samples: Float32Array, layer: FeatureLayer = 'c'): Promise<FileFeatures> {
  const op = 'encodeFeatures';
  const cfg = model.config;
  const { B, L, T } = { B: cfg.batchSize, L: cfg.window, T: model.frames };
  const geom = encoderGeometry(cfg.kernels, cfg.strides);
  const F = encoderFrames(samples.length, cfg.kernels, cfg.strides);
  if (F === 0) throw new ShapeError(op, `audio of ${samples.length} samples is shorter than the encoder's receptive field (${geom.receptiveField} samples)`, { samples: samples.length });
  const dim = layer === 'z' ? cfg.channels : cfg.hidden;
  const out = new Float32Array(F * dim);
  const windows = featureWindows(F, T, layer);
  const signal = new Float32Array(B * L);
  for (let w0 = 0; w0 < windows.length; w0 += B) {
    const group = windows.slice(w0, w0 + B);
    signal.fill(0);
    group.forEach((w, b) => {
      const from = w.start * geom.hop;
      signal.set(samples.subarray(from, Math.min(samples.length, from + L)), b * L);
    });
    const r = await model.encode(signal);
    const feats = layer === 'z' ? r.z : r.c;
    if (feats.length !== B * T * dim) throw new ShapeError(op, `encode returned ${feats.length} ${layer} values, expected B·T·D`, { B, T, D: dim });
    group.forEach((w, b) => {
      const last = Math.min(T, F - w.start);
      out.set(feats.subarray((b * T + w.keepFrom) * dim, (b * T + last) * dim), (w.start + w.keepFrom) * dim);
    });
  }
  return { features: out, frames: F, dim, layer, hop: geom.hop, receptiveField: geom.receptiveField };
}

/** A .npy (format 1.0) file of a float32 matrix [rows, cols], little-endian, C order. */
export function encodeNpy(data: Float32Array, rows: number, cols: number): Uint8Array {
  if (data.length !== rows * cols) throw new ShapeError('encodeNpy', `data has ${data.length} values, expected ${rows}·${cols}`, { rows, cols });
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces and a final newline to
  // a multiple of 64 bytes (the format's alignment rule).
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const body = new DataView(out.buffer, total);
  for (let i = 0; i < data.length; i++) body.setFloat32(i * 4, data[i]!, true);
  return out;
}
