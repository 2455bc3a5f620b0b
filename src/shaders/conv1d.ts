// Encoder Conv1d layers (CPC audio): conv + bias (+ ChannelNorm) + ReLU forward, and the matching
// backward, as implicit GEMMs over CHANNELS-LAST activations.
//
// Layouts (f32 unless the layer's `storage` is 'f16': then x and y (activations between layers),
// xhat and duPad may be f16 — see STORAGE below):
//   x       [B, Tin, Cin]   layer input; layer 0 takes the waveform as [B, L] (Cin = 1)
//   y       [B, Tout, Cout] layer output after ReLU (the next layer's x; z after the last layer)
//   weight  [Cout, Cin, K]  PyTorch's; bias, normWeight (γ), normBias (β): [Cout]
//   saved   (norm only) xhat [B, Tout, Cout] = normalised conv output, rstd [B, Tout]
//   dy      [B, Tout, Cout]; dx [B, Tin, Cin] (overwritten; null skips it, e.g. for the waveform);
//   dWeight [Cout, Cin, K], dBias / dNormWeight / dNormBias [Cout] (overwritten)
// Scratch (op-local; conv1dForwardScratch / conv1dBackwardScratch list them for the planner):
//   forward  wT [K·Cin, NP]        weights as r = k·Cin + ci rows, Cout padded to NP = ceil8(Cout)
//   backward duPad [B, TPAD, Cout] dL/d(conv output), zero-padded in time for the dx GEMM (absent
//                                  when the waveform dW kernel fuses the ReLU backward: no dx, no norm)
//            wdT [S, JM·Cout, NPI] the dx weight slabs per phase (only when dx is computed)
//            dwPartial [CHUNKS, RP, NP] per-chunk dW / db partial sums (RP = K·Cin + 1 rounded up to 4, or 8 for short spans)
//            normPartial [NCHUNKS, 2, Cout] per-chunk dγ / dβ partial sums (norm only)
// Channels-last makes output frame t's receptive field the contiguous span
// x[b, t·S·Cin .. (t·S + K)·Cin), so the forward, dx and dW are GEMMs with contiguous rows:
//   forward  relayout w → wT; conv1dGemm forward* (bias + ReLU in the epilogue); [channelNorm forward]
//   backward [relayout w → wdT]; reluGradPad or channelNorm backward (+ dγ/dβ partials, reduce);
//            dW/db partials (conv1dWeightGrad, or conv1dWeightGradWave for short spans such as
//            the waveform layer, which also fuses the ReLU backward there); reduce; [dx GEMM].
// The waveform layer's forward runs the generic GEMM's scalar path: its output (C values per 10
// multiply-adds each) makes it store-bound, and a dedicated tile that reuses overlapping windows
// would save ≤ 1/6 of its memory operations; its stores go 4 columns at a time (the *Out4 entry
// points, whenever the output's channel count is a multiple of 4), as do ChannelNorm's loads and
// stores (*Vec4), both bitwise equal to their 1-wide forms (tests/conv1dWide.test.ts). Tiling, workgroup size and the subgroup sharing were
// chosen by measurement on lavapipe (bench/conv.ts); the .wgsl headers say why.
// Variants (conv1dVariants, src/runtime/variants.ts): the register tiles above over lane sharing ×
// workgroup size, and workgroup-memory tiled GEMMs (conv1dWgmem.wgsl, Conv1dOptions.wgmem) for
// the forward, the dW partials and dx, the classic shared-tile form GPUs favour. They use the
// same scratch, relayouts, epilogues, norm kernels and dW reduce, and sum every output in the same
// ascending order, so only the GEMM dispatches differ.
import type { GpuContext } from '../runtime/device.ts';
import { ShapeError, type Shapes } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type DispatchSpec, type PreparedOp } from '../runtime/kernel.ts';
import type { KernelSource } from '../runtime/pipelines.ts';
import { tensorByteLength, type DType, type Tensor } from '../runtime/tensor.ts';
import { isSoftwareAdapter, type KernelVariant } from '../runtime/variants.ts';
import { grid1d } from './elementwise.ts';
import lanesSubgroup from './conv1dLanes.subgroup.wgsl?raw';
import lanesPortable from './conv1dLanes.portable.wgsl?raw';
import tileCode from './conv1dTile.wgsl?raw';
import gemmCode from './conv1dGemm.wgsl?raw';
import weightGradCode from './conv1dWeightGrad.wgsl?raw';
import weightGradWaveCode from './conv1dWeightGradWave.wgsl?raw';
import relayoutCode from './conv1dRelayout.wgsl?raw';
import backwardCode from './conv1dBackward.wgsl?raw';
import normCode from './channelNorm.wgsl?raw';
import wgmemCode from './conv1dWgmem.wgsl?raw';

export const CHANNEL_NORM_EPS = 1e-5;

export interface EncoderStackConfig {
  /** Samples per sequence. */
  L: number;
  B: number;
  /** C: output channels of every layer. */
  channels: number;
  kernels: readonly number[];
  strides: readonly number[];
  /** ChannelNorm between each conv and its ReLU (default false). */
  norm?: boolean;
  /** Element type of the saved xhat and the padded du (default 'f32'; see Conv1dDims.storage). */
  storage?: ActivationStorage;
}

/**
 * Storage of a layer's big per-frame tensors. 'f16' (needs the 'shader-f16' feature) stores the
 * saved xhat and the backward's padded du as f16; the layer's x and y may then be f16 too (the
 * launcher takes each tensor's dtype). Every kernel widens f16 loads to f32 and accumulates in f32;
 * parameters, gradients (dy, dx, dW), rstd and all partial sums stay f32.
 */
export type ActivationStorage = 'f32' | 'f16';

export interface Conv1dDims {
  /** Layer index in the stack (0 reads the waveform). */
  layer: number;
  B: number;
  Cin: number;
  Tin: number;
  Cout: number;
  K: number;
  stride: number;
  Tout: number;
  norm: boolean;
  /** Element type of xhat and duPad (default 'f32'). */
  storage?: ActivationStorage;
}

export interface Conv1dTensorSpec {
  name: string;
  shape: number[];
  dtype: DType;
}

export type LaneSharing = 'subgroup' | 'portable';

/**
 * A workgroup-memory tiling (conv1dWgmem.wgsl): wy × wx invocations, each a 4 × 4 register
 * micro-tile, so a workgroup computes a (4·wy) × (4·wx) output tile.
 */
export interface WgmemTiling {
  /** Invocations along the output columns (tile width 4·wx). */
  wx: number;
  /** Invocations along the output rows (tile height 4·wy). */
  wy: number;
}

export interface Conv1dOptions {
  /** Default: 'subgroup' when the device has subgroups with subgroupMinSize ≥ 8, else 'portable'. */
  lanes?: LaneSharing;
  /** Invocations per GEMM workgroup, a multiple of 8 (default: defaultWorkgroupSize). */
  workgroupSize?: number;
  /**
   * Run the forward GEMM, the dW partials and the dx GEMM as workgroup-memory tiled GEMMs with
   * this tiling instead of the barrier-free register tiles (absent: register tiles). The
   * waveform-style dW kernel (short spans) and the reductions are the same either way; `lanes`
   * and `workgroupSize` still pick those.
   */
  wgmem?: WgmemTiling;
}

const ceil8 = (n: number) => ceilDiv(n, 8) * 8;
const ceil4 = (n: number) => ceilDiv(n, 4) * 4;
const ROWS_PER_LANE = 4;
const COLS_PER_TILE = 8;
const FLAT_WG = 64;
/** Lanes the two-stage reductions aim for (enough for any GPU; a few chunks on lavapipe). */
const TARGET_LANES = 4096;
const MIN_CHUNK_FRAMES = 64;

function dimShapes(d: Conv1dDims): Shapes {
  return {
    layer: d.layer, B: d.B, Cin: d.Cin, Tin: d.Tin, Cout: d.Cout, K: d.K, stride: d.stride, Tout: d.Tout, norm: String(d.norm),
    ...(d.storage === 'f16' ? { storage: 'f16' } : {}),
  };
}

function posInt(op: string, name: string, v: number, shapes?: Shapes): void {
  if (!Number.isInteger(v) || v <= 0) throw new ShapeError(op, `${name} must be a positive integer, got ${v}`, shapes);
}

/** Per-layer dims of the encoder; T_out = floor((T_in − k)/s) + 1, refused when a length drops below 1. */
export function encoderStackDims(cfg: EncoderStackConfig): Conv1dDims[] {
  const op = 'encoderStackDims';
  const shapes: Shapes = { L: cfg.L, B: cfg.B, channels: cfg.channels, kernels: [...cfg.kernels], strides: [...cfg.strides] };
  posInt(op, 'L', cfg.L, shapes);
  posInt(op, 'B', cfg.B, shapes);
  posInt(op, 'channels', cfg.channels, shapes);
  if (cfg.kernels.length === 0 || cfg.kernels.length !== cfg.strides.length) {
    throw new ShapeError(op, `kernels (${cfg.kernels.length}) and strides (${cfg.strides.length}) must be non-empty and of equal length`, shapes);
  }
  const norm = cfg.norm ?? false;
  const storage = cfg.storage ?? 'f32';
  if (storage !== 'f32' && storage !== 'f16') throw new ShapeError(op, `storage must be 'f32' or 'f16', got ${String(storage)}`, shapes);
  if (norm && cfg.channels < 2) throw new ShapeError(op, 'ChannelNorm needs channels ≥ 2 (unbiased variance)', shapes);
  const dims: Conv1dDims[] = [];
  let Tin = cfg.L;
  let Cin = 1;
  cfg.kernels.forEach((K, i) => {
    const stride = cfg.strides[i]!;
    posInt(op, `kernels[${i}]`, K, shapes);
    posInt(op, `strides[${i}]`, stride, shapes);
    if (Tin < K) {
      throw new ShapeError(op, `layer ${i}: input length ${Tin} is shorter than its kernel ${K}, so its output length would be < 1`, shapes);
    }
    const Tout = Math.floor((Tin - K) / stride) + 1;
    dims.push({ layer: i, B: cfg.B, Cin, Tin, Cout: cfg.channels, K, stride, Tout, norm, ...(storage === 'f16' ? { storage } : {}) });
    Tin = Tout;
    Cin = cfg.channels;
  });
  return dims;
}

/** Everything derived from the dims that the kernels and scratch shapes need. */
export function conv1dGeometry(d: Conv1dDims) {
  const RED = d.K * d.Cin;
  const M = d.B * d.Tout;
  const NP = ceil8(d.Cout);
  const NPI = ceil8(d.Cin);
  const JM = ceilDiv(d.K, d.stride);
  // du is padded so that the span of JM frames ending at t0 = floor(τ/S) exists for every input frame τ.
  const padFront = JM - 1;
  const padBack = Math.max(0, ceilDiv(d.Tin, d.stride) - d.Tout);
  const TPAD = d.Tout + padFront + padBack;
  // Short spans (the waveform layer) take the role-swapped dW kernel: with 4 taps per lane the
  // standard one would keep only ceil((RED + 1)/4) lanes busy per frame.
  const waveDw = RED + 1 <= 28;
  const RP = waveDw ? ceil8(RED + 1) : ceil4(RED + 1);
  const lanesPerChunk = waveDw ? (RP / 8) * ceilDiv(d.Cout, 4) : (RP / 4) * (NP / 8);
  const wantChunks = Math.min(ceilDiv(TARGET_LANES, lanesPerChunk), Math.max(1, Math.floor(M / MIN_CHUNK_FRAMES)));
  const CH = ceilDiv(M, Math.max(1, wantChunks));
  const CHUNKS = ceilDiv(M, CH);
  const normWant = Math.min(ceilDiv(TARGET_LANES, d.Cout), Math.max(1, Math.floor(M / MIN_CHUNK_FRAMES)));
  const NCH = ceilDiv(M, Math.max(1, normWant));
  const NCHUNKS = ceilDiv(M, NCH);
  return { RED, M, NP, NPI, JM, padFront, padBack, TPAD, waveDw, RP, CH, CHUNKS, NCH, NCHUNKS };
}

function validateDims(op: string, d: Conv1dDims): void {
  const shapes = dimShapes(d);
  for (const k of ['B', 'Cin', 'Tin', 'Cout', 'K', 'stride', 'Tout'] as const) posInt(op, k, d[k], shapes);
  if (d.Tin < d.K || d.Tout !== Math.floor((d.Tin - d.K) / d.stride) + 1) {
    throw new ShapeError(op, `Tout must be floor((Tin − K)/stride) + 1 = ${d.Tin < d.K ? '< 1' : Math.floor((d.Tin - d.K) / d.stride) + 1}`, shapes);
  }
  if (d.norm && d.Cout < 2) throw new ShapeError(op, 'ChannelNorm needs Cout ≥ 2 (unbiased variance)', shapes);
}

function storageDType(d: Conv1dDims): DType {
  return d.storage === 'f16' ? 'f16' : 'f32';
}

/** Tensors the forward writes for the backward (beyond y itself). */
export function conv1dSavedTensors(d: Conv1dDims): Conv1dTensorSpec[] {
  return d.norm
    ? [{ name: 'xhat', shape: [d.B, d.Tout, d.Cout], dtype: storageDType(d) }, { name: 'rstd', shape: [d.B, d.Tout], dtype: 'f32' }]
    : [];
}

export function conv1dForwardScratch(d: Conv1dDims): Conv1dTensorSpec[] {
  const g = conv1dGeometry(d);
  return [{ name: 'wT', shape: [g.RED, g.NP], dtype: 'f32' }];
}

/** The waveform-style dW kernel reads dy and y directly when no dx and no norm need a du tensor. */
function fusesReluGrad(d: Conv1dDims, inputGrad: boolean): boolean {
  return conv1dGeometry(d).waveDw && !d.norm && !inputGrad;
}

export function conv1dBackwardScratch(d: Conv1dDims, opts: { inputGrad: boolean }): Conv1dTensorSpec[] {
  const g = conv1dGeometry(d);
  const s: Conv1dTensorSpec[] = [];
  if (!fusesReluGrad(d, opts.inputGrad)) {
    s.push({ name: 'duPad', shape: [d.B, opts.inputGrad ? g.TPAD : d.Tout, d.Cout], dtype: storageDType(d) });
  }
  if (opts.inputGrad) s.push({ name: 'wdT', shape: [d.stride, g.JM * d.Cout, g.NPI], dtype: 'f32' });
  s.push({ name: 'dwPartial', shape: [g.CHUNKS, g.RP, g.NP], dtype: 'f32' });
  if (d.norm) s.push({ name: 'normPartial', shape: [g.NCHUNKS, 2, d.Cout], dtype: 'f32' });
  return s;
}

/**
 * Refuses a layer beyond the device's limits before any tensor or pipeline exists: every bound
 * tensor against maxStorageBufferBindingSize, every grid against maxComputeWorkgroupsPerDimension.
 */
export function checkConv1dLimits(ctx: GpuContext, d: Conv1dDims, opts: { backward?: boolean; inputGrad?: boolean } = {}): void {
  const op = opts.backward ? `conv1dBackward.l${d.layer + 1}` : `conv1dForward.l${d.layer + 1}`;
  validateDims(op, d);
  const shapes = dimShapes(d);
  const g = conv1dGeometry(d);
  const specs = [
    // x and y at f32 size: the layer's activations may be either type.
    { name: 'x', shape: [d.B, d.Tin, d.Cin], dtype: 'f32' as DType }, { name: 'y', shape: [d.B, d.Tout, d.Cout], dtype: 'f32' as DType },
    ...conv1dSavedTensors(d), ...conv1dForwardScratch(d),
    ...(opts.backward ? conv1dBackwardScratch(d, { inputGrad: opts.inputGrad ?? d.layer > 0 }) : []),
  ];
  for (const s of specs) {
    const bytes = tensorByteLength(s.shape, s.dtype);
    ctx.checkLimit(`${op} (${s.name} [${s.shape.join(', ')}])`, 'maxStorageBufferBindingSize', bytes, shapes);
  }
  // The smallest workgroup we launch gives the largest grids.
  const wg = 8;
  const grids = [
    ceilDiv(g.M, wg * ROWS_PER_LANE), g.CHUNKS, ceilDiv(g.RP / 4, wg),
    ceilDiv(d.B * ceilDiv(d.Tin, d.stride), wg * ROWS_PER_LANE), d.stride, g.NP / 8,
  ];
  for (const n of grids) ctx.checkLimit(op, 'maxComputeWorkgroupsPerDimension', n, shapes);
  ctx.checkLimit(op, 'maxStorageBuffersPerShaderStage', 6, shapes);
}

/**
 * 16 on CPU (fallback / software) adapters: on lavapipe 8 and 16 ran the GEMMs 15-30 % faster
 * than 32 and up to 2x faster than 64 (measured at the small bench shape). 64 elsewhere, so GPU
 * warps stay full (not measured: no GPU here).
 */
export function defaultWorkgroupSize(ctx: GpuContext): number {
  return isSoftwareAdapter(ctx) ? 16 : 64;
}

/**
 * Register-tile GEMM workgroup sizes the variants try besides the default: 16 (lavapipe's best,
 * with 8 within noise of it), 64 (two GPU warps / one wave64) and 256 (the WebGPU maximum, fewer
 * and fuller workgroups). 8, 32 and 128 are left out to keep the tuner's list short.
 */
const CONV_VARIANT_WORKGROUP_SIZES = [16, 64, 256];

/**
 * Workgroup-memory tilings the variants try, largest first: 64×64 tiles on 16×16 invocations
 * (the classic desktop SGEMM tile: each staged element feeds 64 multiply-adds), 32×32 on 8×8
 * (mobile GPUs and small grids: a quarter of the workgroup memory, 4× the workgroups), and the
 * two 32×64 / 64×32 halves (tall-thin and short-wide GEMMs: dx of the waveform-adjacent layer,
 * dW's K·Cin rows × Cout columns).
 */
const WGMEM_TILINGS: readonly WgmemTiling[] = [{ wy: 16, wx: 16 }, { wy: 8, wx: 8 }, { wy: 8, wx: 16 }, { wy: 16, wx: 8 }];
/** Staged K depth of conv1dWgmem.wgsl (its BK) and its padded A row (AS_STRIDE). */
const WGMEM_BK = 16;
const WGMEM_AS_STRIDE = 17;

/** Bytes of workgroup memory conv1dWgmem.wgsl declares for a tiling. */
export function wgmemStorageBytes(t: WgmemTiling): number {
  return 4 * (4 * t.wy * WGMEM_AS_STRIDE + WGMEM_BK * 4 * t.wx);
}

/** Stable variant id of a tiling: tile rows × columns, then workgroup rows × columns. */
export function wgmemId(t: WgmemTiling): string {
  return `wgmem.t${4 * t.wy}x${4 * t.wx}.wg${t.wy}x${t.wx}`;
}

function wgmemFits(ctx: GpuContext, t: WgmemTiling): boolean {
  const l = ctx.limits;
  return t.wx * t.wy <= l.maxComputeInvocationsPerWorkgroup && t.wx <= l.maxComputeWorkgroupSizeX
    && t.wy <= l.maxComputeWorkgroupSizeY && wgmemStorageBytes(t) <= l.maxComputeWorkgroupStorageSize;
}

/** Workgroups of the phase's main GEMM under a tiling: forward y, backward dx (dW for the waveform). */
function wgmemGrid(d: Conv1dDims, phase: 'forward' | 'backward', t: WgmemTiling): number {
  const g = conv1dGeometry(d);
  const bm = 4 * t.wy, bn = 4 * t.wx;
  if (phase === 'forward') return ceilDiv(g.NP, bn) * ceilDiv(g.M, bm);
  if (d.layer > 0) return ceilDiv(g.NPI, bn) * ceilDiv(d.B * ceilDiv(d.Tin, d.stride), bm) * d.stride;
  return ceilDiv(g.NP, bn) * ceilDiv(g.RP, bm) * g.CHUNKS;
}

/**
 * Enough workgroups to occupy a GPU: 128 covers 2-4 resident workgroups on each of the 32-64
 * compute units of a desktop part, and more than enough for a mobile GPU's handful.
 */
const GPU_FILL_WORKGROUPS = 128;

/**
 * The conv variants valid on this device for these dims, the adapter-class default first
 * (src/runtime/variants.ts): the register tiles (lanes × workgroup size) and the workgroup-memory
 * tilings. Ids: `${lanes}.wg${n}` and `wgmem.t${rows}x${cols}.wg${rows}x${cols}`.
 *
 * Default on software adapters: today's register tile (measured fastest there: workgroup barriers
 * turn a llvmpipe kernel into coroutines, DESIGN.md §6; the wgmem tilings ran 2.3-15x slower on
 * lavapipe and 1.3-10x on SwiftShader for layers 2-5 in bench/conv.ts's variant rows). Default on every other adapter: the
 * largest workgroup-memory tiling that still gives the phase's main GEMM GPU_FILL_WORKGROUPS
 * workgroups (the smallest tiling's otherwise). By GPU principles, not measured (no GPU here):
 * the register tiles re-read their A rows from global memory once per 8 output columns, a staged
 * tile reads each element once per 64 (or 32) outputs, and GPUs' workgroup memory and barriers are
 * cheap; a tile too large for the problem leaves compute units idle, hence the fill rule.
 * The backward of the waveform layer (no dx; its dW runs the role-swapped wave kernel, which has
 * no wgmem form) lists only the register variants: a wgmem entry there would be the same kernels.
 */
export function conv1dVariants(ctx: GpuContext, d: Conv1dDims, phase: 'forward' | 'backward'): KernelVariant<Conv1dOptions>[] {
  const info = (ctx.device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  const sgOk = ctx.has('subgroups') && (info?.subgroupMinSize ?? 0) >= 8;
  const lanesList: LaneSharing[] = sgOk ? ['subgroup', 'portable'] : ['portable'];
  const maxWg = Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX);
  const def = defaultWorkgroupSize(ctx);
  const register: KernelVariant<Conv1dOptions>[] = [];
  for (const lanes of lanesList) {
    for (const wg of [def, ...CONV_VARIANT_WORKGROUP_SIZES.filter((w) => w !== def)]) {
      if (wg <= maxWg) register.push({ id: `${lanes}.wg${wg}`, options: { lanes, workgroupSize: wg } });
    }
  }
  const wave = phase === 'backward' && d.layer === 0 && conv1dGeometry(d).waveDw;
  // The workgroup-memory kernels read and write f32 only: with f16 activation storage
  // (d.storage 'f16') only the register tiles, which the f16 path converted, are valid.
  const tilings = wave || d.storage === 'f16' ? [] : WGMEM_TILINGS.filter((t) => wgmemFits(ctx, t));
  if (isSoftwareAdapter(ctx) || tilings.length === 0) {
    return [...register, ...tilings.map((t) => ({ id: wgmemId(t), options: { wgmem: { ...t } } }))];
  }
  const first = tilings.find((t) => wgmemGrid(d, phase, t) >= GPU_FILL_WORKGROUPS)
    ?? tilings.reduce((a, t) => (wgmemGrid(d, phase, t) > wgmemGrid(d, phase, a) ? t : a));
  const ordered = [first, ...tilings.filter((t) => t !== first)];
  return [...ordered.map((t) => ({ id: wgmemId(t), options: { wgmem: { ...t } } })), ...register];
}

interface ResolvedOptions { lanes: LaneSharing; wg: number; wgmem: WgmemTiling | null }

function resolveOptions(ctx: GpuContext, op: string, d: Conv1dDims, opts: Conv1dOptions): ResolvedOptions {
  const info = (ctx.device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  const sgOk = ctx.has('subgroups') && (info?.subgroupMinSize ?? 0) >= 8;
  const lanes = opts.lanes ?? (sgOk ? 'subgroup' : 'portable');
  const shapes = dimShapes(d);
  if (lanes === 'subgroup' && !sgOk) {
    throw new ShapeError(op, `lanes 'subgroup' needs the 'subgroups' feature with subgroupMinSize ≥ 8 (device: ${ctx.has('subgroups') ? `min size ${info?.subgroupMinSize}` : 'no subgroups'})`, shapes);
  }
  const wg = opts.workgroupSize ?? defaultWorkgroupSize(ctx);
  if (!Number.isInteger(wg) || wg <= 0 || wg % 8 !== 0) throw new ShapeError(op, `workgroupSize must be a positive multiple of 8, got ${wg}`, shapes);
  ctx.checkLimit(op, 'maxComputeInvocationsPerWorkgroup', wg, shapes);
  ctx.checkLimit(op, 'maxComputeWorkgroupSizeX', wg, shapes);
  const t = opts.wgmem ?? null;
  if (t) {
    if (!Number.isInteger(t.wx) || !Number.isInteger(t.wy) || t.wx <= 0 || t.wy <= 0) {
      throw new ShapeError(op, `wgmem tiling needs positive integer wx and wy, got wx = ${t.wx}, wy = ${t.wy}`, shapes);
    }
    const tag = `${op} (wgmem ${t.wy}×${t.wx} invocations)`;
    ctx.checkLimit(tag, 'maxComputeInvocationsPerWorkgroup', t.wx * t.wy, shapes);
    ctx.checkLimit(tag, 'maxComputeWorkgroupSizeX', t.wx, shapes);
    ctx.checkLimit(tag, 'maxComputeWorkgroupSizeY', t.wy, shapes);
    ctx.checkLimit(tag, 'maxComputeWorkgroupStorageSize', wgmemStorageBytes(t), shapes);
  }
  if (t && d.storage === 'f16') {
    throw new ShapeError(op, `wgmem tiling reads and writes f32 only; f16 activation storage needs a register-tile variant (e.g. 'portable.wg16')`, shapes);
  }
  return { lanes, wg, wgmem: t ? { wx: t.wx, wy: t.wy } : null };
}

const shaderCache = new Map<string, KernelSource>();

/**
 * Storage element types of a module's activation bindings (the .wgsl headers say which binding
 * uses which): aT = a GEMM's A operand / the layer input, oT = a GEMM's output, yT = the layer
 * output y, hT = the saved xhat, dT = du (or dy). f32 unless bound to an f16 tensor.
 */
export interface StorageTypes { aT: DType; oT: DType; yT: DType; hT: DType; dT: DType }
const ALL_F32: StorageTypes = { aT: 'f32', oT: 'f32', yT: 'f32', hT: 'f32', dT: 'f32' };
const ALIASES = ['aT', 'oT', 'yT', 'hT', 'dT'] as const;

/**
 * The `enable f16;` directive (first: directives precede declarations) and the alias lines
 * (appended: WGSL module-scope declarations may follow their uses). Only the fixed identifiers
 * 'f32' / 'f16' reach the WGSL text, chosen from validated dtypes.
 */
function storagePreamble(types: StorageTypes): { head: string; tail: string; key: string } {
  const any16 = ALIASES.some((k) => types[k] === 'f16');
  const tail = ALIASES.map((k) => `alias ${k} = ${types[k] === 'f16' ? 'f16' : 'f32'};`).join('\n');
  const key = ALIASES.map((k) => (types[k] === 'f16' ? 'h' : 'f')).join('');
  return { head: any16 ? 'enable f16;\n' : '', tail, key };
}

function withStorage(name: string, code: string, types: StorageTypes): KernelSource {
  const p = storagePreamble(types);
  const full = p.key === 'fffff' ? name : `${name}.${p.key}`;
  let s = shaderCache.get(full);
  if (!s) {
    s = { name: full, code: `${p.head}${code}\n${p.tail}\n` };
    shaderCache.set(full, s);
  }
  return s;
}

/** A GEMM module: lane-sharing preamble (SHARED_SRC bound to `src`) + register tile + body. */
const GEMM_BODIES = {
  gemm: { file: 'Gemm', shared: 'w', code: gemmCode },
  weightGrad: { file: 'WeightGrad', shared: 'du', code: weightGradCode },
  weightGradWave: { file: 'WeightGradWave', shared: 'xs', code: weightGradWaveCode },
} as const;

function gemmShader(kind: keyof typeof GEMM_BODIES, lanes: LaneSharing, types: Partial<StorageTypes> = {}): KernelSource {
  const body = GEMM_BODIES[kind];
  // Only fixed identifiers are substituted: no user input ever reaches the WGSL text.
  const pre = (lanes === 'subgroup' ? lanesSubgroup : lanesPortable).replaceAll('SHARED_SRC', body.shared);
  return withStorage(`conv1d${body.file}.${lanes}`, `${pre}\n${tileCode}\n${body.code}`, { ...ALL_F32, ...types });
}

const wgmemShader: KernelSource = { name: 'conv1dWgmem', code: wgmemCode };

export const conv1dRelayoutShader: KernelSource = { name: 'conv1dRelayout', code: relayoutCode };
/** reluGradPad: yT = y, dT = du. */
export function conv1dBackwardShader(types: Partial<StorageTypes> = {}): KernelSource {
  return withStorage('conv1dBackward', backwardCode, { ...ALL_F32, ...types });
}
/** yT = y, hT = xhat, dT = du. */
export function channelNormShader(types: Partial<StorageTypes> = {}): KernelSource {
  return withStorage('channelNorm', normCode, { ...ALL_F32, ...types });
}

/** Refuses f16 storage on a device without 'shader-f16', naming the op, the tensors and the feature. */
function checkStorageFeature(ctx: GpuContext, op: string, d: Conv1dDims, tensors: Record<string, Tensor | null | undefined>): void {
  const f16 = Object.entries(tensors).filter(([, t]) => t?.dtype === 'f16').map(([k]) => k);
  if (f16.length > 0 && !ctx.has('shader-f16')) {
    throw new ShapeError(op, `f16 storage (${f16.join(', ')}) needs the 'shader-f16' feature, which this device lacks`, dimShapes(d));
  }
}

const F32_ONLY: readonly DType[] = ['f32'];
/** x, y (activations between layers) may be either type; xhat and duPad follow dims.storage. */
const F32_OR_F16: readonly DType[] = ['f32', 'f16'];

function checkTensor(
  op: string, name: string, t: Tensor | null | undefined, shape: number[], d: Conv1dDims, alt?: number[], dtypes: readonly DType[] = F32_ONLY,
): Tensor {
  const shapes = dimShapes(d);
  if (!t) throw new ShapeError(op, `${name} [${shape.join(', ')}] is required`, shapes);
  if (!dtypes.includes(t.dtype)) throw new ShapeError(op, `${name} must be ${dtypes.join(' or ')}, got ${t.dtype}`, shapes);
  const eq = (s: readonly number[]) => s.length === t.shape.length && s.every((v, i) => v === t.shape[i]);
  if (!eq(shape) && !(alt && eq(alt))) {
    throw new ShapeError(op, `${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]${alt ? ` or [${alt.join(', ')}]` : ''}`, shapes);
  }
  return t;
}

function checkScratch(op: string, t: Record<string, Tensor | null | undefined>, specs: Conv1dTensorSpec[], d: Conv1dDims): void {
  for (const s of specs) checkTensor(op, `scratch.${s.name}`, t[s.name], s.shape, d, undefined, [s.dtype]);
}

/** x's shape: [B, Tin, Cin], or [B, L] for the waveform (Cin = 1). */
function checkInput(op: string, name: string, t: Tensor | null | undefined, d: Conv1dDims, dtypes: readonly DType[] = F32_OR_F16): Tensor {
  return checkTensor(op, name, t, [d.B, d.Tin, d.Cin], d, d.Cin === 1 ? [d.B, d.Tin] : undefined, dtypes);
}

export interface Conv1dForwardTensors {
  x: Tensor;
  weight: Tensor;
  bias: Tensor;
  y: Tensor;
  /** γ, β, xhat, rstd: required when dims.norm. */
  normWeight?: Tensor;
  normBias?: Tensor;
  xhat?: Tensor;
  rstd?: Tensor;
  scratch: { wT: Tensor };
}

export interface Conv1dPlan {
  name: string;
  shapes: Shapes;
  specs: DispatchSpec[];
  /**
   * Backward only: specs[inputGradFrom..] compute dx and read only du (and the weights), so a
   * scheduler may run them as a separate op after x, y and dy are dead. Absent without dx.
   */
  inputGradFrom?: number;
  flops: number;
  bytes: number;
}

/** Useful multiply-adds ×2 of one conv GEMM (padding excluded). */
export function conv1dFlops(d: Conv1dDims): number {
  return 2 * d.B * d.Tout * d.Cout * d.Cin * d.K;
}

type RowsConstants = { TR: number; A_BS: number; A_TS: number; RED: number; N: number; NP: number; O_BS: number; O_TS: number; O_PS: number; VS: number; VLIM: number; RELU: number; phases: number };

function rowsSpec(
  d: Conv1dDims, shader: KernelSource, entry: string, wg: number, a: Tensor, w: Tensor, out: Tensor, bias: Tensor | null, c: RowsConstants,
): DispatchSpec {
  const { phases, ...constants } = c;
  return {
    shader, entryPoint: entry, constants: { ...constants, NB: d.B, WG: wg },
    bindings: bias ? [a, w, out, bias] : [a, w, out],
    workgroups: [c.NP / COLS_PER_TILE, ceilDiv(d.B * c.TR, wg * ROWS_PER_LANE), phases],
  };
}

/** The same GEMM as rowsSpec, as conv1dWgmem.wgsl's forward / inputGrad with tiling t. */
function wgmemRowsSpec(
  ctx: GpuContext, op: string, d: Conv1dDims, entry: 'forward' | 'inputGrad', t: WgmemTiling, a: Tensor, w: Tensor, out: Tensor, bias: Tensor | null, c: RowsConstants,
): DispatchSpec {
  const { phases, ...constants } = c;
  const workgroups: [number, number, number] = [ceilDiv(c.NP, 4 * t.wx), ceilDiv(d.B * c.TR, 4 * t.wy), phases];
  for (const n of workgroups) ctx.checkLimit(op, 'maxComputeWorkgroupsPerDimension', n, dimShapes(d));
  return {
    shader: wgmemShader, entryPoint: entry, constants: { ...constants, NB: d.B, WX: t.wx, WY: t.wy },
    bindings: bias ? [a, w, out, bias] : [a, w, out], workgroups,
  };
}

/**
 * conv1dGemm.wgsl's entry point: A loaded 4 at a time when its rows allow (`vec4A`), the output
 * stored 4 columns at a time when every out offset is a multiple of 4 (`out4`: Cout for y, Cin for dx).
 */
function gemmEntry(kind: 'forward' | 'inputGrad', vec4A: boolean, out4: boolean): string {
  return `${kind}${vec4A ? 'Vec4' : 'Scalar'}${out4 ? 'Out4' : ''}`;
}

/** y = ReLU(norm?(conv(x) + bias)): weight relayout, one GEMM dispatch, (norm pass). */
export function planConv1dForward(ctx: GpuContext, d: Conv1dDims, t: Conv1dForwardTensors, opts: Conv1dOptions = {}): Conv1dPlan {
  const op = `conv1dForward.l${d.layer + 1}`;
  checkConv1dLimits(ctx, d);
  const { lanes, wg, wgmem } = resolveOptions(ctx, op, d, opts);
  const g = conv1dGeometry(d);
  const x = checkInput(op, 'x', t.x, d);
  checkTensor(op, 'weight', t.weight, [d.Cout, d.Cin, d.K], d);
  checkTensor(op, 'bias', t.bias, [d.Cout], d);
  checkTensor(op, 'y', t.y, [d.B, d.Tout, d.Cout], d, undefined, F32_OR_F16);
  checkScratch(op, t.scratch as unknown as Record<string, Tensor>, conv1dForwardScratch(d), d);
  if (d.norm) {
    checkTensor(op, 'normWeight', t.normWeight, [d.Cout], d);
    checkTensor(op, 'normBias', t.normBias, [d.Cout], d);
    checkTensor(op, 'xhat', t.xhat, [d.B, d.Tout, d.Cout], d, undefined, [storageDType(d)]);
    checkTensor(op, 'rstd', t.rstd, [d.B, d.Tout], d);
  }
  checkStorageFeature(ctx, op, d, { x, y: t.y, xhat: d.norm ? t.xhat : null });
  const vec4 = d.Cin % 4 === 0;
  const fc: RowsConstants = {
    TR: d.Tout, A_BS: d.Tin * d.Cin, A_TS: d.stride * d.Cin, RED: g.RED, N: d.Cout, NP: g.NP,
    O_BS: d.Tout * d.Cout, O_TS: d.Cout, O_PS: 0, VS: 1, VLIM: d.Tout, RELU: d.norm ? 0 : 1, phases: 1,
  };
  const specs: DispatchSpec[] = [{
    shader: conv1dRelayoutShader, entryPoint: 'forwardWeights',
    constants: { COUT: d.Cout, CIN: d.Cin, K: d.K, NP: g.NP, TOTAL: g.RED * g.NP },
    bindings: [t.weight, t.scratch.wT], workgroups: grid1d(ctx, ceilDiv(g.RED * g.NP, FLAT_WG)),
  }, wgmem
    ? wgmemRowsSpec(ctx, op, d, 'forward', wgmem, x, t.scratch.wT, t.y, t.bias, fc)
    : rowsSpec(d, gemmShader('gemm', lanes, { aT: x.dtype, oT: t.y.dtype }), gemmEntry('forward', vec4, d.Cout % 4 === 0), wg, x, t.scratch.wT, t.y, t.bias, fc)];
  if (d.norm) {
    specs.push({
      shader: channelNormShader({ yT: t.y.dtype, hT: t.xhat!.dtype }), entryPoint: d.Cout % 4 === 0 ? 'forwardVec4' : 'forward',
      constants: { C: d.Cout, NF: g.M, EPS: CHANNEL_NORM_EPS },
      bindings: [t.y, t.normWeight!, t.normBias!, t.xhat!, t.rstd!], workgroups: grid1d(ctx, ceilDiv(g.M, FLAT_WG)),
    });
  }
  const yElems = g.M * d.Cout;
  return {
    name: op, shapes: dimShapes(d), specs,
    flops: conv1dFlops(d) + (d.norm ? 8 * yElems : 2 * yElems),
    bytes: 4 * (d.B * d.Tin * d.Cin + d.Cout * (d.Cin * d.K + 1) + yElems * (d.norm ? 4 : 1)),
  };
}

export function prepareConv1dForward(ctx: GpuContext, d: Conv1dDims, t: Conv1dForwardTensors, opts: Conv1dOptions = {}): Promise<PreparedOp> {
  const p = planConv1dForward(ctx, d, t, opts);
  return prepareDispatches(ctx, p.name, p.shapes, p.specs, p);
}

export interface Conv1dBackwardTensors {
  x: Tensor;
  weight: Tensor;
  /** The forward's output (post-ReLU): its sign is the ReLU mask. */
  y: Tensor;
  dy: Tensor;
  /** Overwritten with dL/dx; null skips the input gradient (layer 0's waveform). */
  dx: Tensor | null;
  dWeight: Tensor;
  dBias: Tensor;
  /** Required when dims.norm. */
  normWeight?: Tensor;
  xhat?: Tensor;
  rstd?: Tensor;
  dNormWeight?: Tensor;
  dNormBias?: Tensor;
  /** duPad is absent when conv1dBackwardScratch does not list it (fused ReLU backward). */
  scratch: { duPad?: Tensor; wdT?: Tensor; dwPartial: Tensor; normPartial?: Tensor };
}

/**
 * dx, dW, db (and dγ, dβ) of one layer: (dx weight relayout), ReLU / norm backward into the padded
 * du, (norm parameter partials + reduce), dW/db partials + reduce, dx GEMM over the S phases.
 */
export function planConv1dBackward(ctx: GpuContext, d: Conv1dDims, t: Conv1dBackwardTensors, opts: Conv1dOptions = {}): Conv1dPlan {
  const op = `conv1dBackward.l${d.layer + 1}`;
  const inputGrad = t.dx !== null;
  checkConv1dLimits(ctx, d, { backward: true, inputGrad });
  const { lanes, wg, wgmem } = resolveOptions(ctx, op, d, opts);
  const g = conv1dGeometry(d);
  const x = checkInput(op, 'x', t.x, d);
  checkTensor(op, 'weight', t.weight, [d.Cout, d.Cin, d.K], d);
  checkTensor(op, 'y', t.y, [d.B, d.Tout, d.Cout], d, undefined, F32_OR_F16);
  checkTensor(op, 'dy', t.dy, [d.B, d.Tout, d.Cout], d);
  const dx = inputGrad ? checkInput(op, 'dx', t.dx, d, F32_ONLY) : null;
  checkTensor(op, 'dWeight', t.dWeight, [d.Cout, d.Cin, d.K], d);
  checkTensor(op, 'dBias', t.dBias, [d.Cout], d);
  checkScratch(op, t.scratch as unknown as Record<string, Tensor>, conv1dBackwardScratch(d, { inputGrad }), d);
  if (d.norm) {
    checkTensor(op, 'normWeight', t.normWeight, [d.Cout], d);
    checkTensor(op, 'xhat', t.xhat, [d.B, d.Tout, d.Cout], d, undefined, [storageDType(d)]);
    checkTensor(op, 'rstd', t.rstd, [d.B, d.Tout], d);
    checkTensor(op, 'dNormWeight', t.dNormWeight, [d.Cout], d);
    checkTensor(op, 'dNormBias', t.dNormBias, [d.Cout], d);
  }
  const { duPad, wdT, dwPartial, normPartial } = t.scratch;
  checkStorageFeature(ctx, op, d, { x, y: t.y, xhat: d.norm ? t.xhat : null, duPad });
  const duT: DType = duPad?.dtype ?? 'f32';
  const fused = fusesReluGrad(d, inputGrad);
  const tpad = inputGrad ? g.TPAD : d.Tout;
  const padf = inputGrad ? g.padFront : 0;
  const specs: DispatchSpec[] = [];
  // ChannelNorm's 4-channel entry points (same sums, same order: bitwise the scalar ones' results).
  const norm4 = d.Cout % 4 === 0;
  if (d.norm) {
    specs.push({
      shader: channelNormShader({ yT: t.y.dtype, hT: t.xhat!.dtype, dT: duT }), entryPoint: norm4 ? 'backwardVec4' : 'backward',
      constants: { C: d.Cout, NF: g.M, TOUT: d.Tout, TPAD: tpad, PADF: padf, NB: d.B },
      bindings: [t.dy, t.y, t.xhat!, t.rstd!, t.normWeight!, duPad!], workgroups: grid1d(ctx, ceilDiv(d.B * tpad, FLAT_WG)),
    }, {
      shader: channelNormShader({ yT: t.y.dtype, hT: t.xhat!.dtype, dT: duT }), entryPoint: norm4 ? 'paramPartialVec4' : 'paramPartial',
      constants: { C: d.Cout, NF: g.M, CH: g.NCH, CHUNKS: g.NCHUNKS },
      bindings: [t.dy, t.y, t.xhat!, normPartial!], workgroups: grid1d(ctx, ceilDiv((norm4 ? d.Cout / 4 : d.Cout) * g.NCHUNKS, FLAT_WG)),
    }, {
      shader: channelNormShader({ yT: t.y.dtype, hT: t.xhat!.dtype, dT: duT }), entryPoint: 'paramReduce',
      constants: { C: d.Cout, NF: g.M, CHUNKS: g.NCHUNKS },
      bindings: [normPartial!, t.dNormWeight!, t.dNormBias!], workgroups: [ceilDiv(d.Cout, FLAT_WG)],
    });
  } else if (!fused) {
    const total = d.B * tpad * d.Cout;
    specs.push({
      shader: conv1dBackwardShader({ yT: t.y.dtype, dT: duT }), entryPoint: 'reluGradPad',
      constants: { C: d.Cout, TOUT: d.Tout, TPAD: tpad, PADF: padf, TOTAL: total },
      bindings: [t.dy, t.y, duPad!], workgroups: grid1d(ctx, ceilDiv(total, FLAT_WG)),
    });
  }
  const dwConsts = {
    NB: d.B, TR: d.Tout, CH: g.CH, A_BS: d.Tin * d.Cin, A_TS: d.stride * d.Cin, RED: g.RED,
    D_BS: tpad * d.Cout, D_TS: d.Cout, D_OFF: padf * d.Cout, NCO: d.Cout, NP: g.NP, RP: g.RP, WG: wg,
  };
  if (g.waveDw) {
    const du = fused ? t.dy : duPad!;
    specs.push({
      shader: gemmShader('weightGradWave', lanes, { aT: x.dtype, dT: du.dtype, yT: t.y.dtype }), entryPoint: 'partialWave', constants: { ...dwConsts, MASK: fused ? 1 : 0 },
      // Slot 3 is the ReLU mask source, read only when MASK = 1; binding du there too would alias two
      // writable bindings of one range, which WebGPU refuses (all storage bindings are read_write).
      bindings: [x, du, dwPartial, t.y], workgroups: [g.RP / 8, ceilDiv(ceilDiv(d.Cout, 4), wg), g.CHUNKS],
    });
  } else if (wgmem) {
    const { WG: _wg, ...c } = dwConsts;
    const workgroups: [number, number, number] = [ceilDiv(g.NP, 4 * wgmem.wx), ceilDiv(g.RP, 4 * wgmem.wy), g.CHUNKS];
    for (const n of workgroups) ctx.checkLimit(op, 'maxComputeWorkgroupsPerDimension', n, dimShapes(d));
    specs.push({
      shader: wgmemShader, entryPoint: 'dwPartial', constants: { ...c, WX: wgmem.wx, WY: wgmem.wy },
      bindings: [x, duPad!, dwPartial], workgroups,
    });
  } else {
    specs.push({
      shader: gemmShader('weightGrad', lanes, { aT: x.dtype, dT: duT }), entryPoint: d.Cin % 4 === 0 ? 'partialVec4' : 'partialScalar', constants: dwConsts,
      // partialVec4 sums the bias row in its last A quad's lane (conv1dWeightGrad.wgsl): RED / 4 quads.
      bindings: [x, duPad!, dwPartial], workgroups: [g.NP / COLS_PER_TILE, ceilDiv((d.Cin % 4 === 0 ? g.RED : g.RP) / 4, wg), g.CHUNKS],
    });
  }
  specs.push({
    // The partial pass's module (same storage types): one module, one compile.
    shader: gemmShader('weightGrad', lanes, { aT: x.dtype, dT: duT }), entryPoint: 'reduce',
    constants: { NCO: d.Cout, CIN: d.Cin, K: d.K, RED: g.RED, NP: g.NP, RP: g.RP, CHUNKS: g.CHUNKS },
    bindings: [dwPartial, t.dWeight, t.dBias], workgroups: grid1d(ctx, ceilDiv(d.Cout * (d.Cin * d.K + 1), FLAT_WG)),
  });
  const inputGradFrom = dx ? specs.length : undefined;
  if (dx) {
    const total = d.stride * g.JM * d.Cout * g.NPI;
    specs.push({
      shader: conv1dRelayoutShader, entryPoint: 'inputGradWeights',
      constants: { COUT: d.Cout, CIN: d.Cin, K: d.K, S: d.stride, JM: g.JM, NP: g.NPI, TOTAL: total },
      bindings: [t.weight, wdT!], workgroups: grid1d(ctx, ceilDiv(total, FLAT_WG)),
    });
    const v4 = d.Cout % 4 === 0;
    const xc: RowsConstants = {
      TR: ceilDiv(d.Tin, d.stride), A_BS: tpad * d.Cout, A_TS: d.Cout, RED: g.JM * d.Cout, N: d.Cin, NP: g.NPI,
      O_BS: d.Tin * d.Cin, O_TS: d.stride * d.Cin, O_PS: d.Cin, VS: d.stride, VLIM: d.Tin, RELU: 0, phases: d.stride,
    };
    specs.push(wgmem
      ? wgmemRowsSpec(ctx, op, d, 'inputGrad', wgmem, duPad!, wdT!, dx, null, xc)
      : rowsSpec(d, gemmShader('gemm', lanes, { aT: duT }), gemmEntry('inputGrad', v4, d.Cin % 4 === 0), wg, duPad!, wdT!, dx, null, xc));
  }
  const yElems = g.M * d.Cout;
  return {
    name: op, shapes: dimShapes(d), specs, inputGradFrom,
    flops: conv1dFlops(d) * (dx ? 2 : 1) + (d.norm ? 10 : 1) * yElems,
    bytes: 4 * (2 * d.B * d.Tin * d.Cin + 2 * d.Cout * (d.Cin * d.K + 1) + yElems * (d.norm ? 4 : 2)),
  };
}

export function prepareConv1dBackward(ctx: GpuContext, d: Conv1dDims, t: Conv1dBackwardTensors, opts: Conv1dOptions = {}): Promise<PreparedOp> {
  const p = planConv1dBackward(ctx, d, t, opts);
  return prepareDispatches(ctx, p.name, p.shapes, p.specs, p);
}
