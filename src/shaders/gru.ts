// One-layer GRU (PyTorch equations, gate order r, z, n): forward and backward through time.
//
// Layouts (all f32). H4 = H rounded up to 4, C4 = C rounded up to 4 (pads hold 0).
//   x       [B, T, C]       input (the encoder output z, channels-last)
//   h0      [B, H]          initial state (pass a zeroed tensor for PyTorch's default)
//   out     [B, T, H]       c: the state after every step
//   saved   [B, T, 4, H4]   (r, z, n, W_hn h + b_hn) per step: written by the forward for the backward
//   params  weightIh [3H, C], weightHh [3H, H], biasIh [3H], biasHh [3H] (PyTorch layouts)
//   dOut    [B, T, H]       dL/dc; dhT [B, H] optional extra gradient on the final state
//   grads   dx [B, T, C] (overwrite, or += with accumulate), dh0 [B, H], dWeightIh [3H, C],
//           dWeightHh [3H, H], dBiasIh [3H], dBiasHh [3H] (overwrite)
// Scratch (op-local; gruForwardScratch / gruBackwardScratch list them for the planner), M4 = B·T
// rounded up to 4:
//   forward  gi [B, T, 3, H4] = x W_ihᵀ + b_ih; wihT [C, 3, H4] = W_ihᵀ in gate blocks;
//            xT [C, M4] = xᵀ; whhPacked [3H, H4] (only if H % 4 ≠ 0)
//   backward dGates [B, T, 4, H4] = (dr, dz, dn, r ⊙ dn) pre-activation gradients;
//            whhT [H, 3, H4] = W_hhᵀ in gate blocks; hPrev [B, T, H4] = h_{t−1} per step;
//            dGT [3·H4, M4] = the (dr, dz, dn) blocks transposed;
//            xPacked [B, T, C4] and wihPacked [3H, C4] (only if C % 4 ≠ 0)
// Every kernel reads vec4s in the layout it wants (gruGemm.wgsl explains why the GEMM operands are
// transposed); the repacks copy ≤ (B·T + 3H)·max(C, H) floats, a few % of the op's time.
//
// Dispatches: forward = pack(s), batched input projection, ONE recurrence dispatch (all T steps);
// backward = pack, ONE recurrence dispatch (all T steps, in reverse), h_{t−1} pack, dW_ih + db_ih,
// dW_hh + db_hh, dx.
import type { GpuContext } from '../runtime/device.ts';
import { ShapeError, type Shapes } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type DispatchSpec, type PreparedOp } from '../runtime/kernel.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { grid1d } from './elementwise.ts';
import { isSoftwareAdapter, type KernelVariant } from '../runtime/variants.ts';
import recurrenceCode from './gru.wgsl?raw';
import gemmCode from './gruGemm.wgsl?raw';
import gemmSharedCode from './gruGemmShared.wgsl?raw';

export const gruRecurrenceShader = { name: 'gru', code: recurrenceCode } as const;
export const gruGemmShader = { name: 'gruGemm', code: gemmCode } as const;
/** The workgroup-memory tiles: gruGemm.wgsl (operands, epilogues) + gruGemmShared.wgsl. */
export const gruGemmSharedShader = { name: 'gruGemmShared', code: `${gemmCode}\n${gemmSharedCode}` } as const;

/**
 * Tile of the GEMM kernels: RQ quads × TM columns per invocation. Without `wgmem`, the register
 * tile (gruGemm.wgsl): a workgroup is a line of invocations sharing TM columns, no barriers. With
 * it, the workgroup-memory tile (gruGemmShared.wgsl): li × lj invocations own li·rq quads × lj·tm
 * columns and stage kr reduction rows of both operands per barrier pair.
 */
export interface GemmTile {
  rq: number;
  tm: number;
  wgmem?: { li: number; lj: number; kr: number };
}

/** Bounds of gruGemm.wgsl's MAX_RQ / MAX_TM. */
export const GRU_GEMM_MAX_TILE: GemmTile = { rq: 4, tm: 16 };

/**
 * The default tiles. Measured on lavapipe (ms per GEMM, min of 3–5 runs; machine shared):
 *   paper (8,128,512,256)  proj / dW_ih / dW_hh / dx:  4×8: 45 / 58 / 25 / 46,  2×16: 94 / 100 / 55 / 62,
 *                                                      3×16: 63 / 53 / 32 / 68
 *   small (8,128,64,64):                               4×8: 2.6 / 2.6 / 2.0 / 3.7, 2×16: 2.4 / 2.2 / 2.2 / 2.2
 * 4×8 wins where the time is; at the small shape it costs ~2 ms of a ~40 ms step.
 */
export const GRU_GEMM_TILES: { inputProjection: GemmTile; weightGrad: GemmTile; inputGrad: GemmTile } = {
  inputProjection: { rq: 4, tm: 8 },
  weightGrad: { rq: 4, tm: 8 },
  inputGrad: { rq: 4, tm: 8 },
};

/** Register tiles the variants try for all three GEMMs (the measured candidates above). */
const GRU_VARIANT_TILES: GemmTile[] = [{ rq: 4, tm: 8 }, { rq: 2, tm: 16 }, { rq: 3, tm: 16 }, { rq: 4, tm: 16 }];

/**
 * Workgroup-memory tiles the variants try, covering how GPUs differ: a 64 × 64 output tile from 64
 * invocations of 8 × 8 each (desktop GPUs: few, busy threads, 4 KiB staged), the same tile from 256
 * invocations of 4 × 4 (more threads to hide latency, fewer registers each), and a 32 × 32 tile from
 * 64 invocations of 4 × 4 with a deeper stage (mobile GPUs: small register files, small tiles).
 */
const GRU_VARIANT_WGMEM_TILES: GemmTile[] = [
  { rq: 2, tm: 8, wgmem: { li: 8, lj: 8, kr: 8 } },
  { rq: 1, tm: 4, wgmem: { li: 16, lj: 16, kr: 8 } },
  { rq: 1, tm: 4, wgmem: { li: 8, lj: 8, kr: 16 } },
];

function tileId(t: GemmTile): string {
  return t.wgmem ? `wgmem${t.rq}x${t.tm}.l${t.wgmem.li}x${t.wgmem.lj}.k${t.wgmem.kr}` : `tile${t.rq}x${t.tm}`;
}

/**
 * The GRU variants valid on this device for these dims, the default first (src/runtime/variants.ts):
 * the tile of all three GEMMs; the recurrence keeps its default geometry. Software adapters start
 * with the register tile 4×8 (measured fastest on lavapipe, above); other adapters with the 8 × 8
 * workgroup-memory tile, by GPU principles (each operand vec4 is loaded once per 64 invocations
 * rather than once per invocation, and GPU caches do not hold an operand row per lane; not measured
 * here: no GPU). Workgroup-memory tiles the device's limits refuse are left out.
 */
export function gruVariants(ctx: GpuContext, _d: GruDims, _phase: 'forward' | 'backward'): KernelVariant<GruBackwardOptions>[] {
  const fits = (t: GemmTile) => !t.wgmem || (
    t.wgmem.li * t.wgmem.lj <= Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX)
    && wgmemBytes(t) <= ctx.limits.maxComputeWorkgroupStorageSize);
  const register = GRU_VARIANT_TILES;
  const wgmem = GRU_VARIANT_WGMEM_TILES.filter(fits);
  const ordered = isSoftwareAdapter(ctx) ? [...register, ...wgmem] : [...wgmem, ...register];
  return ordered.map((t) => ({
    id: tileId(t),
    options: { tiles: { inputProjection: t, weightGrad: t, inputGrad: t } },
  }));
}

/** Workgroup storage of a workgroup-memory tile: kr staged rows of both operands, in vec4s. */
function wgmemBytes(t: GemmTile): number {
  const w = t.wgmem!;
  return 16 * w.kr * (w.li * t.rq + (w.lj * t.tm) / 4);
}

/** Upper bound on sequences per recurrence workgroup; must equal gru.wgsl's `const MAX_SPW`. */
export const GRU_MAX_SPW = 8;

export interface GruDims {
  B: number;
  T: number;
  C: number;
  H: number;
}

export interface GruParamTensors {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor;
  biasHh: Tensor;
}

export interface ScratchSpec {
  name: string;
  shape: number[];
  dtype: DType;
}

export interface GruForwardScratch {
  gi: Tensor;
  wihT: Tensor;
  xT: Tensor;
  /** Required only when H % 4 ≠ 0. */
  whhPacked?: Tensor;
}

export interface GruBackwardScratch {
  dGates: Tensor;
  whhT: Tensor;
  hPrev: Tensor;
  dGT: Tensor;
  /** Required only when C % 4 ≠ 0. */
  xPacked?: Tensor;
  /** Required only when C % 4 ≠ 0. */
  wihPacked?: Tensor;
}

/** Recurrence tuning; the defaults are the measured best on lavapipe (bench/gru.ts). */
export interface GruRecurrenceOptions {
  /** Invocations per recurrence workgroup (each owns ceil(H4 / 4 / WG) quads of 4 units). */
  workgroupSize?: number;
  /** Sequences per recurrence workgroup, 1..GRU_MAX_SPW. */
  sequencesPerWorkgroup?: number;
}

export interface GruGemmOptions {
  /** Override the register tiles (tuning, tests); tm must be a multiple of 4. */
  tiles?: Partial<typeof GRU_GEMM_TILES>;
}

export interface GruBackwardOptions extends GruRecurrenceOptions, GruGemmOptions {
  /** dx += result (the training step adds the GRU's dx into dz) instead of dx = result. */
  accumulate?: boolean;
}

const ceil4 = (n: number) => ceilDiv(n, 4) * 4;

export function gruPaddedDims(d: GruDims): { H4: number; C4: number; M4: number } {
  return { H4: ceil4(d.H), C4: ceil4(d.C), M4: ceil4(d.B * d.T) };
}

/** The forward's saved-for-backward tensor (lives from the forward to the backward). */
export function gruSavedSpec(d: GruDims): ScratchSpec {
  return { name: 'saved', shape: [d.B, d.T, 4, ceil4(d.H)], dtype: 'f32' };
}

export function gruForwardScratch(d: GruDims): ScratchSpec[] {
  const { H4, M4 } = gruPaddedDims(d);
  const s: ScratchSpec[] = [
    { name: 'gi', shape: [d.B, d.T, 3, H4], dtype: 'f32' },
    { name: 'wihT', shape: [d.C, 3, H4], dtype: 'f32' },
    { name: 'xT', shape: [d.C, M4], dtype: 'f32' },
  ];
  if (d.H % 4 !== 0) s.push({ name: 'whhPacked', shape: [3 * d.H, H4], dtype: 'f32' });
  return s;
}

export function gruBackwardScratch(d: GruDims): ScratchSpec[] {
  const { H4, C4, M4 } = gruPaddedDims(d);
  const s: ScratchSpec[] = [
    { name: 'dGates', shape: [d.B, d.T, 4, H4], dtype: 'f32' },
    { name: 'whhT', shape: [d.H, 3, H4], dtype: 'f32' },
    { name: 'hPrev', shape: [d.B, d.T, H4], dtype: 'f32' },
    { name: 'dGT', shape: [3 * H4, M4], dtype: 'f32' },
  ];
  if (d.C % 4 !== 0) {
    s.push({ name: 'xPacked', shape: [d.B, d.T, C4], dtype: 'f32' });
    s.push({ name: 'wihPacked', shape: [3 * d.H, C4], dtype: 'f32' });
  }
  return s;
}

/** Both scratch lists. */
export function gruScratch(d: GruDims): { forward: ScratchSpec[]; backward: ScratchSpec[] } {
  return { forward: gruForwardScratch(d), backward: gruBackwardScratch(d) };
}

/** dims from x [B, T, C] and weightHh [3H, H], after checking both are rank-correct. */
export function gruDimsOf(op: string, x: Tensor, weightHh: Tensor): GruDims {
  if (x.shape.length !== 3) throw new ShapeError(op, `x must be [B, T, C], got [${x.shape.join(', ')}]`);
  const [B, T, C] = x.shape as [number, number, number];
  if (weightHh.shape.length !== 2 || weightHh.shape[0] !== 3 * weightHh.shape[1]!) {
    throw new ShapeError(op, `weightHh must be [3H, H], got [${weightHh.shape.join(', ')}]`);
  }
  return { B, T, C, H: weightHh.shape[1]! };
}

function dimShapes(d: GruDims): Shapes {
  return { B: d.B, T: d.T, C: d.C, H: d.H };
}

function checkTensor(op: string, name: string, t: Tensor | undefined, shape: number[], d: GruDims): Tensor {
  if (!t) throw new ShapeError(op, `${name} [${shape.join(', ')}] is required`, dimShapes(d));
  if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`, dimShapes(d));
  if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
    throw new ShapeError(op, `${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, dimShapes(d));
  }
  return t;
}

function checkParams(op: string, p: GruParamTensors, d: GruDims): void {
  checkTensor(op, 'weightIh', p.weightIh, [3 * d.H, d.C], d);
  checkTensor(op, 'weightHh', p.weightHh, [3 * d.H, d.H], d);
  checkTensor(op, 'biasIh', p.biasIh, [3 * d.H], d);
  checkTensor(op, 'biasHh', p.biasHh, [3 * d.H], d);
}

/** Resolved recurrence launch: workgroup size, sequences per workgroup, shared memory. */
export interface RecurrenceLaunch {
  wg: number;
  spw: number;
  sharedV4: number;
  stashV4: number;
}

/**
 * Default recurrence geometry. One invocation per unit quad, up to 256 (the portable limit; more
 * quads → several per invocation). SPW: each weight load serves SPW sequences, so as many as still
 * leaves a workgroup for each of lavapipe's 2 cores (measured, bench/gru.ts), shrunk to fit the
 * device's workgroup storage.
 */
export function defaultRecurrenceLaunch(d: GruDims): { wg: number; spw: number } {
  const q = gruPaddedDims(d).H4 / 4;
  return { wg: Math.min(256, q), spw: Math.max(1, Math.min(GRU_MAX_SPW, ceilDiv(d.B, 2))) };
}

function recurrenceLaunch(
  ctx: GpuContext, op: string, d: GruDims, opts: GruRecurrenceOptions, backward: boolean,
): RecurrenceLaunch {
  const def = defaultRecurrenceLaunch(d);
  const wg = opts.workgroupSize ?? def.wg;
  let spw = opts.sequencesPerWorkgroup ?? def.spw;
  const shapes = dimShapes(d);
  if (!Number.isInteger(wg) || wg < 1) throw new ShapeError(op, `workgroupSize must be a positive integer, got ${wg}`, shapes);
  if (!Number.isInteger(spw) || spw < 1 || spw > GRU_MAX_SPW) {
    throw new ShapeError(op, `sequencesPerWorkgroup must be an integer in 1..${GRU_MAX_SPW}, got ${spw}`, shapes);
  }
  const q = gruPaddedDims(d).H4 / 4;
  // Forward: the state, double-buffered. Backward: dgh (3 gates) double-buffered + the g ⊙ z stash.
  const sharedV4 = (n: number) => (backward ? 2 * n * 3 * q : 2 * n * q);
  const bytes = (n: number) => 16 * (sharedV4(n) + (backward ? n * q : 0));
  // The default shrinks SPW to fit the device's workgroup storage; an explicit request is refused.
  if (opts.sequencesPerWorkgroup === undefined) {
    while (spw > 1 && bytes(spw) > ctx.limits.maxComputeWorkgroupStorageSize) spw--;
  }
  ctx.checkLimit(op, 'maxComputeWorkgroupStorageSize', bytes(spw), { ...shapes, sequencesPerWorkgroup: spw });
  ctx.checkLimit(op, 'maxComputeInvocationsPerWorkgroup', wg, shapes);
  ctx.checkLimit(op, 'maxComputeWorkgroupSizeX', wg, shapes);
  return { wg, spw, sharedV4: sharedV4(spw), stashV4: backward ? spw * q : 1 };
}

function gemmWorkgroup(ctx: GpuContext, lanes: number): number {
  return Math.min(64, ctx.limits.maxComputeInvocationsPerWorkgroup, Math.max(8, ceilDiv(lanes, 8) * 8));
}

function gemmTile(ctx: GpuContext, op: string, name: keyof typeof GRU_GEMM_TILES, opts: GruGemmOptions, d: GruDims): GemmTile {
  const t = opts.tiles?.[name] ?? GRU_GEMM_TILES[name];
  const ok = Number.isInteger(t.rq) && Number.isInteger(t.tm) && t.rq >= 1 && t.tm >= 1
    && t.rq <= GRU_GEMM_MAX_TILE.rq && t.tm <= GRU_GEMM_MAX_TILE.tm && t.tm % 4 === 0;
  if (!ok) {
    const max = GRU_GEMM_MAX_TILE;
    throw new ShapeError(op, `${name} tile ${JSON.stringify(t)}: rq must be in 1..${max.rq}, tm a multiple of 4 in 4..${max.tm}`, dimShapes(d));
  }
  if (t.wgmem) {
    const { li, lj, kr } = t.wgmem;
    if (![li, lj, kr].every((v) => Number.isInteger(v) && v >= 1)) {
      throw new ShapeError(op, `${name} tile ${JSON.stringify(t)}: wgmem li, lj, kr must be positive integers`, dimShapes(d));
    }
    const shapes = { ...dimShapes(d), tile: tileId(t) };
    ctx.checkLimit(op, 'maxComputeInvocationsPerWorkgroup', li * lj, shapes);
    ctx.checkLimit(op, 'maxComputeWorkgroupSizeX', li * lj, shapes);
    ctx.checkLimit(op, 'maxComputeWorkgroupStorageSize', wgmemBytes(t), shapes);
  }
  return t;
}

const PACK_WG = 64;

/**
 * A GEMM dispatch of `entry` for tile t over `quads` × `cols`: register tile (lanes of `rq` quads
 * each over `quads`, `tm`-column blocks over `cols`) or workgroup-memory tile (the `…Shared` entry).
 */
function gemmSpec(
  ctx: GpuContext, entry: 'inputProjection' | 'weightGrad' | 'inputGrad', t: GemmTile, quads: number, cols: number,
  constants: Record<string, number>, bindings: Tensor[],
): DispatchSpec {
  if (t.wgmem) {
    const { li, lj, kr } = t.wgmem;
    return {
      shader: gruGemmSharedShader, entryPoint: `${entry}Shared`,
      constants: {
        ...constants, RQ: t.rq, TM: t.tm, WG: li * lj, LI: li, LJ: lj, KR: kr,
        SA_V4: kr * li * t.rq, SB_V4: (kr * lj * t.tm) / 4,
      },
      bindings, workgroups: [ceilDiv(quads, li * t.rq), ceilDiv(cols, lj * t.tm)],
    };
  }
  const lanes = ceilDiv(quads, t.rq);
  const wg = gemmWorkgroup(ctx, lanes);
  return {
    shader: gruGemmShader, entryPoint: entry, constants: { ...constants, RQ: t.rq, TM: t.tm, WG: wg },
    bindings, workgroups: [ceilDiv(lanes, wg), ceilDiv(cols, t.tm)],
  };
}

/** dst [cols, pitch] = the transpose of the first `cols` columns of src [rows, srcPitch], rows padded. */
function packTransposeSpec(
  ctx: GpuContext, src: Tensor, dst: Tensor, rows: number, cols: number, srcPitch: number, pitch: number,
): DispatchSpec {
  return {
    shader: gruGemmShader, entryPoint: 'packWeights',
    constants: { ROWS: rows, COLS: cols, PITCH: pitch, MODE: 2, SRC_PITCH: srcPitch, WG: PACK_WG },
    bindings: [src, dst], workgroups: grid1d(ctx, ceilDiv(cols * pitch, PACK_WG)),
  };
}

/** dst [rows, pitch] = src [rows, cols] with zero-padded columns. */
function packRowsSpec(ctx: GpuContext, src: Tensor, dst: Tensor, rows: number, cols: number, pitch: number): DispatchSpec {
  return {
    shader: gruGemmShader, entryPoint: 'packWeights',
    constants: { ROWS: rows, COLS: cols, PITCH: pitch, MODE: 0, WG: PACK_WG },
    bindings: [src, dst], workgroups: grid1d(ctx, ceilDiv(rows * pitch, PACK_WG)),
  };
}

/** dst [cols, 3, H4] = the transpose of src [3H, cols], gate blocks padded from H to H4. */
function packGateTransposeSpec(ctx: GpuContext, src: Tensor, dst: Tensor, H: number, H4: number, cols: number): DispatchSpec {
  return {
    shader: gruGemmShader, entryPoint: 'packWeights',
    constants: { ROWS: 3 * H, COLS: cols, PITCH: 3 * H4, MODE: 1, BR: H, BP: H4, WG: PACK_WG },
    bindings: [src, dst], workgroups: grid1d(ctx, ceilDiv(cols * 3 * H4, PACK_WG)),
  };
}

export interface GruForwardArgs {
  x: Tensor;
  h0: Tensor;
  params: GruParamTensors;
  out: Tensor;
  saved: Tensor;
  scratch: GruForwardScratch;
}

/** A validated op before pipelines exist: its dispatches (bench/gru.ts times them one by one). */
export interface GruPlan {
  name: string;
  shapes: Shapes;
  specs: DispatchSpec[];
  flops: number;
  bytes: number;
}

/** c = GRU(x, h0): input projection for all steps, then the whole recurrence in one dispatch. */
export function prepareGruForward(ctx: GpuContext, a: GruForwardArgs, opts: GruRecurrenceOptions & GruGemmOptions = {}): Promise<PreparedOp> {
  const p = planGruForward(ctx, a, opts);
  return prepareDispatches(ctx, p.name, p.shapes, p.specs, p);
}

export function planGruForward(ctx: GpuContext, a: GruForwardArgs, opts: GruRecurrenceOptions & GruGemmOptions = {}): GruPlan {
  const op = 'gruForward';
  const d = gruDimsOf(op, a.x, a.params.weightHh);
  const { B, T, C, H } = d;
  const { H4, M4 } = gruPaddedDims(d);
  checkParams(op, a.params, d);
  checkTensor(op, 'h0', a.h0, [B, H], d);
  checkTensor(op, 'out', a.out, [B, T, H], d);
  checkTensor(op, 'saved', a.saved, gruSavedSpec(d).shape, d);
  const gi = checkTensor(op, 'scratch.gi', a.scratch.gi, [B, T, 3, H4], d);
  const wihT = checkTensor(op, 'scratch.wihT', a.scratch.wihT, [C, 3, H4], d);
  const xT = checkTensor(op, 'scratch.xT', a.scratch.xT, [C, M4], d);
  const M = B * T;
  const launch = recurrenceLaunch(ctx, op, d, opts, false);
  const specs: DispatchSpec[] = [packGateTransposeSpec(ctx, a.params.weightIh, wihT, H, H4, C)];
  let whh = a.params.weightHh;
  if (H % 4 !== 0) {
    whh = checkTensor(op, 'scratch.whhPacked', a.scratch.whhPacked, [3 * H, H4], d);
    specs.push(packRowsSpec(ctx, a.params.weightHh, whh, 3 * H, H, H4));
  }
  specs.push(packTransposeSpec(ctx, a.x, xT, M, C, C, M4));
  const pt = gemmTile(ctx, op, 'inputProjection', opts, d);
  const q3 = 3 * (H4 / 4);
  specs.push(gemmSpec(ctx, 'inputProjection', pt, q3, M,
    { M, H, H4, R: C, AQ: q3, BQ: M4 / 4, IQ: q3 }, [wihT, xT, a.params.biasIh, gi]));
  specs.push({
    shader: gruRecurrenceShader, entryPoint: 'forwardRecurrence',
    constants: { B, T, H, H4, WG: launch.wg, SPW: launch.spw, SHARED_V4: launch.sharedV4 },
    bindings: [gi, whh, a.params.biasHh, a.h0, a.out, a.saved],
    workgroups: [ceilDiv(B, launch.spw)],
  });
  const flops = 2 * M * 3 * H * C + 2 * M * 3 * H * H;
  const bytes = 4 * (M * C + 3 * H * (C + H + 2) + B * H + M * H + M * 4 * H);
  return { name: op, shapes: dimShapes(d), specs, flops, bytes };
}

export interface GruBackwardArgs {
  dOut: Tensor;
  /** Optional extra gradient on the final state h_T [B, H]. */
  dhT?: Tensor | null;
  x: Tensor;
  h0: Tensor;
  out: Tensor;
  saved: Tensor;
  params: GruParamTensors;
  dx: Tensor;
  dh0: Tensor;
  dWeightIh: Tensor;
  dWeightHh: Tensor;
  dBiasIh: Tensor;
  dBiasHh: Tensor;
  scratch: GruBackwardScratch;
}

/** Backward through time in one dispatch, then the weight, bias and input gradients as GEMMs. */
export function prepareGruBackward(ctx: GpuContext, a: GruBackwardArgs, opts: GruBackwardOptions = {}): Promise<PreparedOp> {
  const p = planGruBackward(ctx, a, opts);
  return prepareDispatches(ctx, p.name, p.shapes, p.specs, p);
}

export function planGruBackward(ctx: GpuContext, a: GruBackwardArgs, opts: GruBackwardOptions = {}): GruPlan {
  const op = 'gruBackward';
  const d = gruDimsOf(op, a.x, a.params.weightHh);
  const { B, T, C, H } = d;
  const { H4, C4, M4 } = gruPaddedDims(d);
  checkParams(op, a.params, d);
  checkTensor(op, 'dOut', a.dOut, [B, T, H], d);
  if (a.dhT) checkTensor(op, 'dhT', a.dhT, [B, H], d);
  checkTensor(op, 'h0', a.h0, [B, H], d);
  checkTensor(op, 'out', a.out, [B, T, H], d);
  checkTensor(op, 'saved', a.saved, gruSavedSpec(d).shape, d);
  checkTensor(op, 'dx', a.dx, [B, T, C], d);
  checkTensor(op, 'dh0', a.dh0, [B, H], d);
  checkTensor(op, 'dWeightIh', a.dWeightIh, [3 * H, C], d);
  checkTensor(op, 'dWeightHh', a.dWeightHh, [3 * H, H], d);
  checkTensor(op, 'dBiasIh', a.dBiasIh, [3 * H], d);
  checkTensor(op, 'dBiasHh', a.dBiasHh, [3 * H], d);
  const dGates = checkTensor(op, 'scratch.dGates', a.scratch.dGates, [B, T, 4, H4], d);
  const whhT = checkTensor(op, 'scratch.whhT', a.scratch.whhT, [H, 3, H4], d);
  const hPrev = checkTensor(op, 'scratch.hPrev', a.scratch.hPrev, [B, T, H4], d);
  const dGT = checkTensor(op, 'scratch.dGT', a.scratch.dGT, [3 * H4, M4], d);
  const M = B * T;
  const launch = recurrenceLaunch(ctx, op, d, opts, true);
  const specs: DispatchSpec[] = [packGateTransposeSpec(ctx, a.params.weightHh, whhT, H, H4, H)];
  const recBindings = [a.saved, a.dOut, a.out, a.h0, whhT, dGates, a.dh0];
  specs.push({
    shader: gruRecurrenceShader, entryPoint: a.dhT ? 'backwardRecurrenceDhT' : 'backwardRecurrence',
    constants: { B, T, H, H4, WG: launch.wg, SPW: launch.spw, SHARED_V4: launch.sharedV4, STASH_V4: launch.stashV4 },
    bindings: a.dhT ? [...recBindings, a.dhT] : recBindings,
    workgroups: [ceilDiv(B, launch.spw)],
  });
  specs.push({
    shader: gruGemmShader, entryPoint: 'packPrevState', constants: { B, T, H, H4, WG: PACK_WG },
    bindings: [a.out, a.h0, hPrev], workgroups: grid1d(ctx, ceilDiv(M * H4, PACK_WG)),
  });
  let x4 = a.x;
  let wih = a.params.weightIh;
  if (C % 4 !== 0) {
    x4 = checkTensor(op, 'scratch.xPacked', a.scratch.xPacked, [B, T, C4], d);
    wih = checkTensor(op, 'scratch.wihPacked', a.scratch.wihPacked, [3 * H, C4], d);
    specs.push(packRowsSpec(ctx, a.x, x4, M, C, C4));
    specs.push(packRowsSpec(ctx, a.params.weightIh, wih, 3 * H, C, C4));
  }
  const wt = gemmTile(ctx, op, 'weightGrad', opts, d);
  const q3 = 3 * (H4 / 4);
  for (const hidden of [false, true]) {
    const nc = hidden ? H : C;
    specs.push(gemmSpec(ctx, 'weightGrad', wt, q3, nc,
      { H, H4, NC: nc, R: M, AQ: H4, BQ: (hidden ? H4 : C4) / 4, IQ: q3, A_COLS: hidden ? 1 : 0 },
      [dGates, hidden ? hPrev : x4, hidden ? a.dWeightHh : a.dWeightIh, hidden ? a.dBiasHh : a.dBiasIh]));
  }
  specs.push(packTransposeSpec(ctx, dGates, dGT, M, 3 * H4, 4 * H4, M4));
  const xt = gemmTile(ctx, op, 'inputGrad', opts, d);
  specs.push(gemmSpec(ctx, 'inputGrad', xt, C4 / 4, M,
    { M, C, C4, H, H4, R: 3 * H4, AQ: C4 / 4, BQ: M4 / 4, IQ: C4 / 4, A_ROWS: 1, ACCUMULATE: opts.accumulate ? 1 : 0 },
    [wih, dGT, a.dx]));
  const flops = 2 * M * 3 * H * H + 2 * M * 3 * H * C + 2 * M * 3 * H * H + 2 * M * 3 * H * C;
  const bytes = 4 * (M * H * 7 + M * C * (opts.accumulate ? 3 : 2) + 3 * H * (C + H) * 2 + 6 * H + 2 * B * H);
  return { name: op, shapes: dimShapes(d), specs, flops, bytes };
}
