// Launchers for the fused InfoNCE loss (DESIGN §1) and its negative sampler.
//
// Layouts (f32 unless noted; all channels-last):
//   z        [B, T, C]        encoder frames (candidates); frame index f = b·T + t
//   preds    [K, B, T, C]     predictions from predictor.ts; row index = ((k−1)·B + b)·T + t
//   negIdx   [K, B, T, n] u32 sampled mode only: flat frame indices, e.g. from prepareNegativeSampler
//   rowLoss  [K, B, T]        ℓ = lse − positive score; 0 for rows t + k ≥ T
//   rowLse   [K, B, T]        logsumexp of each row's scores (saved for the backward); 0 if invalid
//   metrics  [1 + 2K]         [0] loss, [1 + (k−1)] loss of step k, [1 + K + (k−1)] accuracy of step k
//   dPreds   [K, B, T, C]     overwritten (zeros on invalid rows)
//   dZ       [B, T, C]        OVERWRITTEN (the GRU backward adds its dx into it afterwards)
// C must be a multiple of 4. The backward takes dLoss = 1. Temporaries are listed by
// infoNceForwardScratch / infoNceBackwardScratch and passed in (the planner places them).
// Memory beyond inputs and outputs is O(rows) (rowHit) for the forward, nothing for the backward of
// batch / batch-time, and O(frames + rows·n) (the inverse negative index) for sampled.
import type { GpuContext } from '../runtime/device.ts';
import { ShapeError, assertShape, type Shapes } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type DispatchSpec, type PreparedOp } from '../runtime/kernel.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { grid1d } from './elementwise.ts';
import { checkBindable } from './predictor.ts';
import { isSoftwareAdapter, type KernelVariant } from '../runtime/variants.ts';
import code from './infonce.wgsl?raw';
import tiledCode from './infonceShared.wgsl?raw';
import samplerCode from './infonceSampler.wgsl?raw';

export const infoNceShader = { name: 'infonce', code } as const;
/** infonce.wgsl + the workgroup-memory tiled score GEMM of the batch / batch-time rows. */
export const infoNceTiledShader = { name: 'infonceTiled', code: `${code}\n${tiledCode}` } as const;
export const infoNceSamplerShader = { name: 'infonceSampler', code: samplerCode } as const;

export interface InfoNceDims {
  B: number;
  T: number;
  C: number;
  K: number;
}

export type InfoNceMode =
  | { kind: 'batch' }
  | { kind: 'batch-time' }
  /** shared: one set of n negatives per position (b, t), reused for every k (CPC_audio); else per row. */
  | { kind: 'sampled'; n: number; shared?: boolean };

export interface ScratchSpec {
  name: string;
  shape: number[];
  dtype: DType;
}

/** Where each value sits in the metrics tensor. */
export function infoNceMetricsLayout(K: number): { loss: number; lossPerK: number; accPerK: number; length: number } {
  return { loss: 0, lossPerK: 1, accPerK: 1 + K, length: 1 + 2 * K };
}

const WG = 64;
/** Row blocks of the sampled inverse index: enough parallelism, counts stay O(frames). */
const MAX_BLOCKS = 256;

function modeName(mode: InfoNceMode): string {
  return mode.kind === 'sampled' ? `sampled(n=${mode.n}${mode.shared ? ', shared' : ''})` : mode.kind;
}

export function checkInfoNce(op: string, dims: InfoNceDims, mode: InfoNceMode): Shapes {
  const { B, T, C, K } = dims;
  const shapes: Shapes = { B, T, C, K, mode: modeName(mode) };
  for (const [name, v] of Object.entries({ B, T, C, K })) {
    if (!Number.isInteger(v) || v <= 0) throw new ShapeError(op, `${name} must be a positive integer, got ${v}`, shapes);
  }
  if (K >= T) throw new ShapeError(op, `need K < T so every prediction step has rows (K=${K}, T=${T})`, shapes);
  if (C % 4 !== 0) throw new ShapeError(op, `C must be a multiple of 4 (vec4 channel loads), got C=${C}`, shapes);
  if (mode.kind === 'sampled' && !(Number.isInteger(mode.n) && mode.n >= 1)) {
    throw new ShapeError(op, `sampled mode needs n ≥ 1 negatives, got ${mode.n}`, shapes);
  }
  if (!['batch', 'batch-time', 'sampled'].includes(mode.kind)) throw new ShapeError(op, `unknown negatives mode '${String(mode.kind)}'`, shapes);
  return shapes;
}

function check(op: string, name: string, t: Tensor | undefined, shape: number[], dtype: DType): Tensor {
  if (!t) throw new ShapeError(op, `${name} is required`);
  assertShape(op, name, t.shape, shape);
  if (t.dtype !== dtype) throw new ShapeError(op, `${name} must be ${dtype}, got ${t.dtype}`);
  return t;
}

function constants(d: InfoNceDims, mode: InfoNceMode): Record<string, number> {
  return {
    B: d.B, T: d.T, C4: d.C / 4, K: d.K, WG,
    MODE: mode.kind === 'batch-time' ? 1 : 0,
    N: mode.kind === 'sampled' ? mode.n : 1,
  };
}

/**
 * How the score GEMM of the batch / batch-time rows runs (the forward, and the backward's dPreds
 * pass; the dZ pass and the sampled mode always use the register kernels). 'register': every
 * invocation loads its own candidate frames (infonce.wgsl). 'wgmem': a workgroup of
 * `workgroupSize` invocations stages 8 candidates × `channelQuads` channel quads of z in workgroup
 * memory per barrier pair and all its rows score them (infonceShared.wgsl).
 */
export interface InfoNceOptions {
  kernel?: 'register' | 'wgmem';
  /** wgmem only: invocations per workgroup, a positive multiple of 8 (default 64). */
  workgroupSize?: number;
  /** wgmem only: channel quads per stage, 1..64 (default 16). */
  channelQuads?: number;
}

const TILED_VARIANTS: { wg: number; cq: number }[] = [{ wg: 64, cq: 16 }, { wg: 64, cq: 32 }, { wg: 128, cq: 16 }];

/**
 * The InfoNCE variants valid on this device, the default first (src/runtime/variants.ts). batch /
 * batch-time: the register tiles, and workgroup-memory tiles of 64 or 128 invocations staging 16 or
 * 32 channel quads (2–4 KiB: small enough for several workgroups per GPU core). Software adapters
 * start with the register tiles (barriers cost a CPU more than the loads they save, DESIGN §6), GPUs
 * with wgmem 64 × 16, by GPU principles (z is loaded once per workgroup instead of once per
 * invocation; not measured here: no GPU). sampled: only today's kernel (its path is changing).
 */
export function infoNceVariants(
  ctx: GpuContext, _dims: InfoNceDims, mode: InfoNceMode, _phase: 'forward' | 'backward',
): KernelVariant<InfoNceOptions>[] {
  const register: KernelVariant<InfoNceOptions> = { id: 'register', options: { kernel: 'register' } };
  if (mode.kind === 'sampled') return [register];
  const maxWg = Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX);
  const tiled: KernelVariant<InfoNceOptions>[] = TILED_VARIANTS
    .filter((v) => v.wg <= maxWg && tiledBytes(v.cq) <= ctx.limits.maxComputeWorkgroupStorageSize)
    .map((v) => ({ id: `wgmem.wg${v.wg}.c${v.cq}`, options: { kernel: 'wgmem', workgroupSize: v.wg, channelQuads: v.cq } }));
  return isSoftwareAdapter(ctx) ? [register, ...tiled] : [...tiled, register];
}

function tiledBytes(cq: number): number {
  return 16 * 8 * cq;
}

interface TiledLaunch { wg: number; cq: number }

function resolveOptions(ctx: GpuContext, op: string, mode: InfoNceMode, o: InfoNceOptions, shapes: Shapes): TiledLaunch | null {
  const kernel = o.kernel ?? 'register';
  if (kernel !== 'register' && kernel !== 'wgmem') throw new ShapeError(op, `kernel must be 'register' or 'wgmem', got '${String(kernel)}'`, shapes);
  if (kernel === 'register') return null;
  if (mode.kind === 'sampled') throw new ShapeError(op, `kernel 'wgmem' is for the batch and batch-time modes only`, shapes);
  const wg = o.workgroupSize ?? 64;
  const cq = o.channelQuads ?? 16;
  if (!Number.isInteger(wg) || wg < 8 || wg % 8 !== 0) throw new ShapeError(op, `workgroupSize must be a positive multiple of 8, got ${wg}`, shapes);
  if (!Number.isInteger(cq) || cq < 1 || cq > 64) throw new ShapeError(op, `channelQuads must be an integer in 1..64, got ${cq}`, shapes);
  ctx.checkLimit(op, 'maxComputeInvocationsPerWorkgroup', wg, shapes);
  ctx.checkLimit(op, 'maxComputeWorkgroupSizeX', wg, shapes);
  ctx.checkLimit(op, 'maxComputeWorkgroupStorageSize', tiledBytes(cq), { ...shapes, channelQuads: cq });
  return { wg, cq };
}

/** A tiled rows dispatch: batch: T + K − 1 target steps × the workgroups of K·⌈B/4⌉ lanes; batch-time: all lanes. */
function tiledRowsSpec(
  ctx: GpuContext, d: InfoNceDims, mode: InfoNceMode, l: TiledLaunch, entryPoint: string, bindings: Tensor[],
): DispatchSpec {
  const lanes = d.K * ceilDiv(d.B, 4);
  const groups = mode.kind === 'batch' ? (d.T + d.K - 1) * ceilDiv(lanes, l.wg) : ceilDiv(lanes * d.T, l.wg);
  return {
    shader: infoNceTiledShader, entryPoint,
    constants: { ...constants(d, mode), WG: l.wg, CQ: l.cq },
    bindings, workgroups: grid1d(ctx, groups),
  };
}

/** Rows with t + k < T. */
export function validRows(d: { B: number; T: number; K: number }): number {
  return d.B * (d.K * d.T - (d.K * (d.K + 1)) / 2);
}

/** Candidates scored per row. */
export function candidatesPerRow(d: { B: number; T: number }, mode: InfoNceMode): number {
  return mode.kind === 'batch' ? d.B : mode.kind === 'batch-time' ? d.B * d.T : mode.n + 1;
}

export function infoNceForwardScratch(dims: InfoNceDims, _mode: InfoNceMode): ScratchSpec[] {
  return [{ name: 'rowHit', shape: [dims.K, dims.B, dims.T], dtype: 'u32' }];
}

export interface InfoNceForwardTensors {
  z: Tensor;
  preds: Tensor;
  /** sampled mode only */
  negIdx?: Tensor;
  rowLoss: Tensor;
  rowLse: Tensor;
  metrics: Tensor;
  /** scratch u32 [K, B, T]: 1 where the positive scored highest */
  rowHit: Tensor;
}

/** Row losses, row logsumexps and the metrics tensor, in two dispatches (rows, then metrics). */
export async function prepareInfoNceForward(
  ctx: GpuContext, dims: InfoNceDims, mode: InfoNceMode, t: InfoNceForwardTensors, opts: InfoNceOptions = {},
): Promise<PreparedOp> {
  const op = `infoNceForward.${mode.kind}`;
  const shapes = checkInfoNce(op, dims, mode);
  const { B, T, C, K } = dims;
  check(op, 'z', t.z, [B, T, C], 'f32');
  check(op, 'preds', t.preds, [K, B, T, C], 'f32');
  check(op, 'rowLoss', t.rowLoss, [K, B, T], 'f32');
  check(op, 'rowLse', t.rowLse, [K, B, T], 'f32');
  check(op, 'rowHit', t.rowHit, [K, B, T], 'u32');
  check(op, 'metrics', t.metrics, [1 + 2 * K], 'f32');
  if (mode.kind === 'sampled') check(op, 'negIdx', t.negIdx, [K, B, T, mode.n], 'u32');
  checkBindable(ctx, op, { ...t }, shapes);
  const tiled = resolveOptions(ctx, op, mode, opts, shapes);
  const consts = constants(dims, mode);
  const rows: DispatchSpec = tiled
    ? tiledRowsSpec(ctx, dims, mode, tiled, 'forwardTiled', [t.z, t.preds, t.rowLoss, t.rowLse, t.rowHit])
    : mode.kind === 'sampled'
    ? {
      shader: infoNceShader, entryPoint: 'forwardSampled', constants: consts,
      bindings: [t.z, t.preds, t.rowLoss, t.rowLse, t.rowHit, t.negIdx!],
      workgroups: grid1d(ctx, ceilDiv(K * B * T, WG)),
    }
    : {
      shader: infoNceShader, entryPoint: 'forwardShared', constants: consts,
      bindings: [t.z, t.preds, t.rowLoss, t.rowLse, t.rowHit],
      workgroups: grid1d(ctx, ceilDiv(K * ceilDiv(B, 4) * T, WG)),
    };
  const metrics: DispatchSpec = {
    shader: infoNceShader, entryPoint: 'reduceMetrics', constants: { B, T, K },
    bindings: [t.rowLoss, t.rowHit, t.metrics], workgroups: [1],
  };
  const R = validRows(dims), NC = candidatesPerRow(dims, mode);
  return prepareDispatches(ctx, op, shapes, [rows, metrics], {
    flops: 2 * R * NC * C,
    bytes: 4 * (K * B * T * C + B * T * C + 3 * K * B * T) + (mode.kind === 'sampled' ? 4 * R * mode.n : 0),
  });
}

/**
 * The sampled mode's inverse index as dispatches (infonceSampler.wgsl): for each frame, the entries
 * row·n + j of negIdx that drew it, in increasing order, at negEntries[negBase[f] .. negBase[f+1]).
 */
export function negativeInverseDispatches(
  ctx: GpuContext, op: string, dims: InfoNceDims, mode: InfoNceMode & { kind: 'sampled' },
  t: { negIdx: Tensor; negCounts?: Tensor; negBase?: Tensor; negEntries?: Tensor },
): DispatchSpec[] {
  const { B, T, K } = dims;
  const [sc, sb, se] = infoNceBackwardScratch(dims, mode);
  const counts = check(op, sc!.name, t.negCounts, sc!.shape, 'u32');
  const base = check(op, sb!.name, t.negBase, sb!.shape, 'u32');
  const entries = check(op, se!.name, t.negEntries, se!.shape, 'u32');
  const NB = sampledBlocks(dims);
  const consts = { B, T, K, N: mode.n, NB, WG };
  const s = infoNceSamplerShader;
  return [
    { shader: s, entryPoint: 'countBlocks', constants: consts, bindings: [t.negIdx, counts], workgroups: grid1d(ctx, ceilDiv(NB, WG)) },
    { shader: s, entryPoint: 'scanBlocks', constants: consts, bindings: [counts, base], workgroups: grid1d(ctx, ceilDiv(B * T, WG)) },
    { shader: s, entryPoint: 'scanFrames', constants: { B, T }, bindings: [base], workgroups: [1] },
    { shader: s, entryPoint: 'fillLists', constants: consts, bindings: [t.negIdx, counts, base, entries], workgroups: grid1d(ctx, ceilDiv(NB, WG)) },
  ];
}

function sampledBlocks(dims: InfoNceDims): number {
  return Math.min(MAX_BLOCKS, dims.K * dims.B * dims.T);
}

export function infoNceBackwardScratch(dims: InfoNceDims, mode: InfoNceMode): ScratchSpec[] {
  if (mode.kind !== 'sampled') return [];
  const { B, T, K } = dims;
  return [
    { name: 'negCounts', shape: [sampledBlocks(dims), B * T], dtype: 'u32' },
    { name: 'negBase', shape: [B * T + 1], dtype: 'u32' },
    { name: 'negEntries', shape: [K * B * T * mode.n], dtype: 'u32' },
  ];
}

export interface InfoNceBackwardTensors {
  z: Tensor;
  preds: Tensor;
  /** the forward's rowLse */
  rowLse: Tensor;
  negIdx?: Tensor;
  dPreds: Tensor;
  dZ: Tensor;
  /** sampled-mode scratch (infoNceBackwardScratch) */
  negCounts?: Tensor;
  negBase?: Tensor;
  negEntries?: Tensor;
}

/** dPreds and dZ of the mean InfoNCE loss (dLoss = 1), recomputing score tiles from rowLse. */
export async function prepareInfoNceBackward(
  ctx: GpuContext, dims: InfoNceDims, mode: InfoNceMode, t: InfoNceBackwardTensors, opts: InfoNceOptions = {},
): Promise<PreparedOp> {
  const op = `infoNceBackward.${mode.kind}`;
  const shapes = checkInfoNce(op, dims, mode);
  const { B, T, C, K } = dims;
  check(op, 'z', t.z, [B, T, C], 'f32');
  check(op, 'preds', t.preds, [K, B, T, C], 'f32');
  check(op, 'rowLse', t.rowLse, [K, B, T], 'f32');
  check(op, 'dPreds', t.dPreds, [K, B, T, C], 'f32');
  check(op, 'dZ', t.dZ, [B, T, C], 'f32');
  const tiled = resolveOptions(ctx, op, mode, opts, shapes);
  const consts = constants(dims, mode);
  const specs: DispatchSpec[] = [];
  if (mode.kind === 'sampled') {
    const negIdx = check(op, 'negIdx', t.negIdx, [K, B, T, mode.n], 'u32');
    checkBindable(ctx, op, { ...t }, shapes);
    const inverse = negativeInverseDispatches(ctx, op, dims, mode, { negIdx, ...t });
    const base = t.negBase!, entries = t.negEntries!;
    specs.push(
      ...inverse,
      {
        shader: infoNceShader, entryPoint: 'rowsSampled', constants: consts,
        bindings: [t.z, t.preds, t.rowLse, t.dPreds, negIdx], workgroups: grid1d(ctx, ceilDiv(K * B * T, WG)),
      },
      {
        shader: infoNceShader, entryPoint: 'framesSampled', constants: consts,
        bindings: [t.z, t.preds, t.rowLse, t.dZ, base, entries], workgroups: grid1d(ctx, ceilDiv(B * T, WG)),
      },
    );
  } else {
    checkBindable(ctx, op, { ...t }, shapes);
    specs.push(
      tiled
        ? tiledRowsSpec(ctx, dims, mode, tiled, 'rowsTiled', [t.z, t.preds, t.rowLse, t.dPreds])
        : {
          shader: infoNceShader, entryPoint: 'rowsShared', constants: consts,
          bindings: [t.z, t.preds, t.rowLse, t.dPreds], workgroups: grid1d(ctx, ceilDiv(K * ceilDiv(B, 4) * T, WG)),
        },
      {
        shader: infoNceShader, entryPoint: 'framesShared', constants: consts,
        bindings: [t.z, t.preds, t.rowLse, t.dZ], workgroups: grid1d(ctx, ceilDiv(ceilDiv(B, 4) * T, WG)),
      },
    );
  }
  // Executed work: each pass recomputes the scores (2 flops per channel) and applies dS (2 more).
  const R = validRows(dims), NC = candidatesPerRow(dims, mode);
  return prepareDispatches(ctx, op, shapes, specs, {
    flops: 8 * R * NC * C,
    bytes: 4 * (2 * K * B * T * C + 2 * B * T * C + K * B * T) + (mode.kind === 'sampled' ? 12 * R * mode.n : 0),
  });
}

/** seed' of step `step`: what the GPU sampler feeds the oracle's hash chain (CPU mirror, u32). */
export function negativeSamplingSeed(seed: number, step: number): number {
  return pcgHash((seed ^ pcgHash(step >>> 0)) >>> 0);
}

function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

export interface NegativeSamplerTensors {
  /** u32 [2]: (seed, step); the trainer rewrites the step each step */
  seedStep: Tensor;
  /** u32 [K, B, T, n] */
  negIdx: Tensor;
}

/**
 * negIdx[k−1, b, t, j] = the oracle's negativeIndex(negativeSamplingSeed(seed, step), r, j, B·T) with
 * r = row, or r = b·T + t when `shared` (the same n negatives for every k of a position):
 * bit-identical to sampleNegatives(negativeSamplingSeed(seed, step), {B, T, K}, n, shared).
 */
export async function prepareNegativeSampler(
  ctx: GpuContext, dims: { B: number; T: number; K: number }, n: number, t: NegativeSamplerTensors, shared = false,
): Promise<PreparedOp> {
  const op = 'negativeSampler';
  const { B, T, K } = dims;
  checkInfoNce(op, { B, T, K, C: 4 }, { kind: 'sampled', n, shared });   // C plays no part in sampling
  const shapes: Shapes = shared ? { B, T, K, n, shared: 'per position' } : { B, T, K, n };
  check(op, 'seedStep', t.seedStep, [2], 'u32');
  check(op, 'negIdx', t.negIdx, [K, B, T, n], 'u32');
  checkBindable(ctx, op, { ...t }, shapes);
  const total = K * B * T * n;
  return prepareDispatches(ctx, op, shapes, [{
    shader: infoNceSamplerShader, entryPoint: 'sample', constants: { B, T, K, N: n, WG, SHARED: shared ? 1 : 0 },
    bindings: [t.seedStep, t.negIdx], workgroups: grid1d(ctx, ceilDiv(total, WG)),
  }], { bytes: 4 * total });
}
