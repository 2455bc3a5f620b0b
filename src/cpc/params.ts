// Where every parameter lives in the flat parameter buffer, and its seeded initialisation.
// One flat buffer lets Adam and the gradient norm run as single dispatches over all parameters;
// the gradient and moment buffers use the same layout. Each binding group starts at a 256-byte
// boundary (minStorageBufferOffsetAlignment); the K predictor heads are packed back to back so the
// predictor kernels can bind them as one [K, C, H] tensor. Gaps stay zero forever (their gradient
// is never written), so they do not disturb the norm or the optimizer.
import { Rng } from './data/rng.ts';
import { paramShapes, type CpcTrainConfig, type InitScheme, type ModelShape } from './config.ts';
import { numel } from '../runtime/tensor.ts';

/** Floats per 256-byte alignment unit. */
const ALIGN_FLOATS = 64;

export interface ParamEntry {
  name: string;
  shape: number[];
  /** Offset in floats inside the flat buffer. */
  offset: number;
  size: number;
}

/** A contiguous run of parameters that one kernel binding covers. */
export interface ParamGroup {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface ParamLayout {
  entries: ParamEntry[];
  byName: Map<string, ParamEntry>;
  groups: Map<string, ParamGroup>;
  /** Floats of the flat buffer (a multiple of 4). */
  total: number;
}

export function paramLayout(cfg: CpcTrainConfig): ParamLayout {
  const shapes = paramShapes(cfg);
  const entries: ParamEntry[] = [];
  const groups = new Map<string, ParamGroup>();
  let at = 0;
  const place = (group: string, groupShape: number[], names: string[]) => {
    at = Math.ceil(at / ALIGN_FLOATS) * ALIGN_FLOATS;
    const start = at;
    for (const name of names) {
      const shape = shapes.get(name)!;
      const size = numel(shape);
      entries.push({ name, shape, offset: at, size });
      at += size;
    }
    groups.set(group, { name: group, shape: groupShape, offset: start, size: at - start });
  };
  const K = cfg.predictionSteps;
  for (const [name, shape] of shapes) {
    if (name.startsWith('predictors.')) continue;
    place(name, shape, [name]);
  }
  place('predictors.weight', [K, cfg.channels, cfg.hidden], Array.from({ length: K }, (_, k) => `predictors.${k}.weight`));
  if (cfg.predictorBias) place('predictors.bias', [K, cfg.channels], Array.from({ length: K }, (_, k) => `predictors.${k}.bias`));
  // Entries back in checkpoint order (paramShapes order) for stable iteration everywhere.
  const order = [...shapes.keys()];
  entries.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const total = Math.ceil(at / 4) * 4;
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), groups, total };
}

/**
 * How parameters start (config field `init`):
 *   'pytorch': PyTorch's defaults: Conv1d and Linear weights and biases U(−1/√fan_in, 1/√fan_in);
 *              GRU weights and biases U(−1/√H, 1/√H); norm γ = 1, β = 0.
 *   'kaiming': encoder convs as nn.init.kaiming_uniform_(nonlinearity='relu'), i.e.
 *              U(−√(6/fan_in), √(6/fan_in)), with zero conv biases; predictors U(±0.1/√H); GRU and
 *              norm as 'pytorch'.
 * Why 'kaiming' exists (measured, `tiny` and `small` on the synthetic set, one batch at init): with
 * 'pytorch' every conv keeps 1/3 of its input variance and ReLU halves it, so after five layers the
 * waveform's part of z is ~1 % of the conv biases' constant pattern (z std over frames / |mean z| =
 * 0.009 for tiny); ChannelNorm rescales, but what it normalises is still that bias pattern (0.09).
 * Every frame then scores alike, the loss sits at ln B and the gradient norm is ~1e-5. Zero biases and
 * a variance-preserving gain make z carry the signal from step 1 (z std / |mean z| 0.57 for tiny with
 * norm). Then the predictors' random scores are the problem: at U(±1/√H) they start the loss 0.07–0.12
 * ABOVE ln B and the first steps are spent undoing them; at a tenth of that the loss starts at ln B
 * + 0.002 and falls at once. Not zero: W_k = 0 would zero every gradient into the GRU and encoder.
 */
const KAIMING_PREDICTOR_SCALE = 0.1;
/** Seeded initial parameters; `cfg.init` defaults to 'pytorch' (the scheme the peers mirror). */
export function initParams(cfg: ModelShape & { init?: InitScheme }, seed: number): Map<string, Float32Array> {
  const scheme = cfg.init ?? 'pytorch';
  const rng = new Rng(seed >>> 0 ^ 0x5eed1234);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(cfg)) {
    const a = new Float32Array(numel(shape));
    if (name.endsWith('norm.weight')) a.fill(1);
    else if (name.endsWith('norm.bias')) a.fill(0);
    else {
      let fanIn: number;
      let bound: number;
      if (name.startsWith('gru.')) fanIn = cfg.hidden;
      else if (name.startsWith('encoder.')) {
        const i = Number(name.split('.')[1]);
        fanIn = (i === 0 ? 1 : cfg.channels) * cfg.kernels[i]!;
      } else fanIn = cfg.hidden;
      bound = 1 / Math.sqrt(fanIn);
      if (scheme === 'kaiming' && name.startsWith('encoder.')) bound = name.endsWith('.bias') ? 0 : Math.sqrt(6 / fanIn);
      if (scheme === 'kaiming' && name.startsWith('predictors.')) bound *= KAIMING_PREDICTOR_SCALE;
      for (let j = 0; j < a.length; j++) a[j] = bound === 0 ? 0 : rng.uniform(-bound, bound);
    }
    out.set(name, a);
  }
  return out;
}

/** Packs named arrays into a flat buffer of the layout; every name and size must match. */
export function packParams(layout: ParamLayout, params: Map<string, Float32Array>, what = 'params'): Float32Array {
  const flat = new Float32Array(layout.total);
  for (const e of layout.entries) {
    const a = params.get(e.name);
    if (!a) throw new RangeError(`${what}: missing '${e.name}' [${e.shape.join(', ')}]`);
    if (a.length !== e.size) throw new RangeError(`${what}: '${e.name}' has ${a.length} values, expected [${e.shape.join(', ')}] = ${e.size}`);
    flat.set(a, e.offset);
  }
  for (const name of params.keys()) {
    if (!layout.byName.has(name)) throw new RangeError(`${what}: unknown parameter '${name}'`);
  }
  return flat;
}

export function unpackParams(layout: ParamLayout, flat: Float32Array): Map<string, Float32Array> {
  return new Map(layout.entries.map((e) => [e.name, flat.slice(e.offset, e.offset + e.size)]));
}
