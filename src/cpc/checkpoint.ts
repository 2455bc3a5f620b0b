// The checkpoint format: safetensors holding every parameter under its PyTorch name, the Adam
// moments under `adam.m.<name>` / `adam.v.<name>`, and string metadata (format version, the full
// config as JSON, the optimizer step, plus whatever the caller adds — e.g. the data sampler state).
// A weights-only file (e.g. converted from PyTorch) loads too: moments then start at zero.
import { CheckpointError, encodeSafetensors, parseSafetensors, type SafeTensor } from './safetensors.ts';
import { parseConfigJson, type CpcTrainConfig, type ModelShape } from './config.ts';
import type { ParamLayout } from './params.ts';

export const CHECKPOINT_FORMAT = 'cpc-webgpu.checkpoint.v1';

/**
 * Largest safetensors header a checkpoint may have, checked from the 8-byte length prefix before a
 * byte of it is decoded. The paper config's header is ≈ 12 KB (78 tensor entries of ≈ 100 bytes, the
 * config, the sampler state and a 4096-byte data folder path); 1 MiB leaves room for ≈ 9,000 tensor
 * entries (≈ 3,000 parameters, e.g. 700 encoder layers with norm). The format's own limit (100 MB)
 * let a header of 1.5 M zero-size tensors cost 2.5 GB of RSS and 26 s before being refused.
 */
export const MAX_CHECKPOINT_HEADER_BYTES = 1 << 20;

/** A checkpoint file parsed once; readCheckpointInfo and decodeCheckpoint take it instead of the bytes. */
export type ParsedCheckpoint = ReturnType<typeof parseSafetensors>;

/** Parses a checkpoint's safetensors container, refusing a header larger than any config needs. */
export function parseCheckpoint(bytes: Uint8Array, source = 'checkpoint'): ParsedCheckpoint {
  if (bytes.length >= 8) {
    const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(MAX_CHECKPOINT_HEADER_BYTES)) {
      throw new CheckpointError('loadCheckpoint', `${source}: header length ${n} exceeds the ${MAX_CHECKPOINT_HEADER_BYTES}-byte limit for a checkpoint (the paper config's is ≈ 12 KB)`);
    }
  }
  return parseSafetensors(bytes, source);
}

function parsed(input: Uint8Array | ParsedCheckpoint, source: string): ParsedCheckpoint {
  return input instanceof Uint8Array ? parseCheckpoint(input, source) : input;
}

/** Config fields that fix parameter shapes: a checkpoint must agree on all of them. */
const SHAPE_FIELDS = ['channels', 'hidden', 'predictionSteps', 'kernels', 'strides', 'norm', 'predictorBias'] as const satisfies readonly (keyof ModelShape)[];

export interface CheckpointState {
  step: number;
  /** Flat buffers in the trainer's layout. */
  params: Float32Array;
  m: Float32Array | null;
  v: Float32Array | null;
  metadata: Record<string, string>;
}

export function encodeCheckpoint(
  cfg: CpcTrainConfig, layout: ParamLayout, step: number,
  flat: { params: Float32Array; m: Float32Array; v: Float32Array }, extra: Record<string, string> = {},
): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const e of layout.entries) tensors.set(e.name, { dtype: 'F32', shape: e.shape, data: flat.params.slice(e.offset, e.offset + e.size) });
  for (const e of layout.entries) tensors.set(`adam.m.${e.name}`, { dtype: 'F32', shape: e.shape, data: flat.m.slice(e.offset, e.offset + e.size) });
  for (const e of layout.entries) tensors.set(`adam.v.${e.name}`, { dtype: 'F32', shape: e.shape, data: flat.v.slice(e.offset, e.offset + e.size) });
  for (const key of ['format', 'config', 'step']) {
    if (key in extra) throw new CheckpointError('encodeCheckpoint', `metadata key '${key}' is reserved`);
  }
  return encodeSafetensors(tensors, { ...extra, format: CHECKPOINT_FORMAT, config: JSON.stringify(cfg), step: String(step) });
}

function checkFormat(meta: Record<string, string>, source: string): void {
  if (meta.format !== undefined && meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError('loadCheckpoint', `${source}: unsupported format '${meta.format}' (this version reads '${CHECKPOINT_FORMAT}')`);
  }
}

/** The optimizer step in a checkpoint's metadata (0 when absent, e.g. weights exported from PyTorch). */
export function checkpointStep(meta: Record<string, string>, source: string): number {
  if (meta.step === undefined) return 0;
  if (!/^\d+$/.test(meta.step) || !Number.isSafeInteger(Number(meta.step))) {
    throw new CheckpointError('loadCheckpoint', `${source}: metadata 'step' must be a non-negative integer, got '${meta.step}'`);
  }
  return Number(meta.step);
}

/** The config and step a checkpoint was written with, validated, without touching a device. */
export function readCheckpointInfo(input: Uint8Array | ParsedCheckpoint, source = 'checkpoint'): { config: CpcTrainConfig; step: number; metadata: Record<string, string> } {
  const { metadata } = parsed(input, source);
  checkFormat(metadata, source);
  if (metadata.config === undefined) {
    throw new CheckpointError('loadCheckpoint', `${source}: no 'config' in the metadata; pass a config explicitly (--config) for weights-only files`);
  }
  let config: CpcTrainConfig;
  try {
    config = parseConfigJson(metadata.config, `${source} metadata 'config'`);
  } catch (e) {
    throw new CheckpointError('loadCheckpoint', `${source}: invalid config in the metadata: ${(e as Error).message}`);
  }
  return { config, step: checkpointStep(metadata, source), metadata };
}

/** Parses and checks a checkpoint against a config's layout; returns flat buffers ready to upload. */
export function decodeCheckpoint(input: Uint8Array | ParsedCheckpoint, cfg: CpcTrainConfig, layout: ParamLayout, source = 'checkpoint'): CheckpointState {
  const op = 'loadCheckpoint';
  const fail = (msg: string): never => { throw new CheckpointError(op, `${source}: ${msg}`); };
  const { tensors, metadata } = parsed(input, source);
  checkFormat(metadata, source);
  if (metadata.config !== undefined) {
    let saved: Record<string, unknown>;
    try {
      saved = JSON.parse(metadata.config) as Record<string, unknown>;
    } catch {
      return fail("metadata 'config' is not valid JSON");
    }
    for (const f of SHAPE_FIELDS) {
      if (JSON.stringify(saved[f]) !== JSON.stringify(cfg[f])) {
        fail(`config field '${f}' differs: checkpoint has ${JSON.stringify(saved[f])}, this model has ${JSON.stringify(cfg[f])}`);
      }
    }
  }
  const step = checkpointStep(metadata, source);
  const known = new Set<string>();
  const read = (prefix: string, required: boolean): Float32Array | null => {
    const flat = new Float32Array(layout.total);
    let found = 0;
    for (const e of layout.entries) {
      const name = prefix + e.name;
      known.add(name);
      const t = tensors.get(name);
      if (!t) {
        if (required) fail(`missing tensor '${name}' [${e.shape.join(', ')}]`);
        continue;
      }
      if (t.dtype !== 'F32') fail(`tensor '${name}' has dtype ${t.dtype}; expected F32`);
      if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
        fail(`tensor '${name}' has shape [${t.shape.join(', ')}]; this model needs [${e.shape.join(', ')}]`);
      }
      flat.set(t.data as Float32Array, e.offset);
      found++;
    }
    if (found === 0 && !required) return null;
    if (found !== layout.entries.length) fail(`has ${found} of the ${layout.entries.length} '${prefix}*' tensors; moments must be all present or all absent`);
    // Adam's second moment is an average of squared gradients: a negative one has no meaning, and the
    // update's sqrt(v) is NaN for as long as β2·v + (1 − β2)·g² stays negative.
    const nonNegative = prefix === 'adam.v.';
    for (let i = 0; i < flat.length; i++) {
      const x = flat[i]!;
      if (!Number.isFinite(x) || (nonNegative && x < 0)) {
        const e = layout.entries.find((t) => i >= t.offset && i < t.offset + t.size)!;
        fail(`tensor '${prefix}${e.name}' holds ${Number.isFinite(x) ? 'a negative second moment' : 'a non-finite value'} ${x} at index ${i - e.offset}`);
      }
    }
    return flat;
  };
  const params = read('', true)!;
  const m = read('adam.m.', false);
  const v = read('adam.v.', false);
  if ((m === null) !== (v === null)) fail('has only one of the two Adam moments (adam.m.*, adam.v.*)');
  for (const name of tensors.keys()) {
    if (!known.has(name)) fail(`unknown tensor '${name}' (not a parameter of this config)`);
  }
  return { step, params, m, v, metadata };
}
