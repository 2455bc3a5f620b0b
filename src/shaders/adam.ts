// Launchers for the optimizer step: Adam / AdamW over ONE flat parameter buffer, with global-norm
// clipping computed on the GPU. A step is
//   prepareGradNorm (2 dispatches) → prepareAdamStep (1 dispatch, +1 when P mod 4 ≠ 0)
// encoded back to back, after writeAdamHyper has queued this step's hyper-parameters.
//
// Layouts (all f32):
//   params, grads, m, v [P]  flat buffers with identical layouts (each parameter tensor at a
//                            256-byte-aligned offset, zero padding between: padding stays zero,
//                            since zero grads keep m = v = 0 and the update 0/(0+eps) = 0)
//   hyper  [ADAM_HYPER_LEN]  see ADAM_HYPER (host float64 values rounded once to f32)
//   gradNorm [GRAD_NORM_STATS_LEN]  gradNorm.ts's normOut: [‖g‖₂, nonFinite, Σg², 0]
//
// Non-finite gradients: when any gradient is NaN/±Inf (or Σg² overflows f32, i.e. ‖g‖ ≳ 1.8e19),
// gradNorm sets nonFinite = 1 and this step leaves params, m and v bit-for-bit unchanged. The
// trainer reads the stats tensor to report the skipped step; the step counter it feeds to
// writeAdamHyper is its own business (PyTorch + GradScaler does not advance it on a skipped step).
import type { GpuContext } from '../runtime/device.ts';
import { ShapeError, assertShape, type Shapes } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type DispatchSpec, type PreparedOp } from '../runtime/kernel.ts';
import { writeTensor, type DType, type Tensor } from '../runtime/tensor.ts';
import code from './adam.wgsl?raw';
import { grid1d } from './elementwise.ts';
import { GRAD_NORM_STATS_LEN, assertDisjoint, gradNormScratch } from './gradNorm.ts';

export const adamShader = { name: 'adam', code } as const;

/** Slots of the `hyper` tensor; must match the H_* constants in adam.wgsl. */
export const ADAM_HYPER = {
  stepSize: 0, // lr / (1 − β1^t)
  beta1: 1,
  oneMinusBeta1: 2,
  beta2: 3,
  oneMinusBeta2: 4,
  invBc2Sqrt: 5, // 1 / sqrt(1 − β2^t)
  eps: 6,
  l2: 7, // Adam: weightDecay (added to the gradient); AdamW: 0
  decay: 8, // AdamW: lr · weightDecay (p −= decay·p); Adam: 0
  maxNorm: 9, // clip threshold; −1 = no clipping
  lr: 10, // informational (not read by the kernel)
  step: 11, // informational
} as const;
export const ADAM_HYPER_LEN = 12;

export const ADAM_WG = 64;

export interface AdamHyperParams {
  lr: number;
  /** Optimizer step, counted from 1 as in torch (the bias corrections would divide by 0 at 0). */
  step: number;
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-8
  weightDecay?: number; // default 0
  /** true: AdamW (p ← p − lr·wd·p); false (default): Adam (g ← g + wd·p) */
  decoupled?: boolean;
  /** Global-norm clip threshold; undefined or Infinity: no clipping. */
  maxNorm?: number;
}

/** The f32 contents of `hyper` for one step; bias corrections computed in float64. */
export function adamHyperValues(h: AdamHyperParams): Float32Array {
  const op = 'writeAdamHyper';
  const beta1 = h.beta1 ?? 0.9;
  const beta2 = h.beta2 ?? 0.999;
  const eps = h.eps ?? 1e-8;
  const wd = h.weightDecay ?? 0;
  const maxNorm = h.maxNorm ?? Infinity;
  const bad = (what: string) => { throw new ShapeError(op, what, { step: h.step, lr: h.lr }); };
  if (!Number.isInteger(h.step) || h.step < 1) bad(`step must be an integer ≥ 1, got ${h.step}`);
  if (!Number.isFinite(h.lr) || h.lr < 0) bad(`lr must be finite and ≥ 0, got ${h.lr}`);
  if (!(beta1 >= 0 && beta1 < 1)) bad(`beta1 must be in [0, 1), got ${beta1}`);
  if (!(beta2 >= 0 && beta2 < 1)) bad(`beta2 must be in [0, 1), got ${beta2}`);
  if (!(Number.isFinite(eps) && eps > 0)) bad(`eps must be finite and > 0, got ${eps}`);
  if (!(Number.isFinite(wd) && wd >= 0)) bad(`weightDecay must be finite and ≥ 0, got ${wd}`);
  if (!(maxNorm > 0)) bad(`maxNorm must be > 0 (Infinity: no clipping), got ${maxNorm}`);
  const out = new Float32Array(ADAM_HYPER_LEN);
  out[ADAM_HYPER.stepSize] = h.lr / (1 - beta1 ** h.step);
  out[ADAM_HYPER.beta1] = beta1;
  out[ADAM_HYPER.oneMinusBeta1] = 1 - beta1;
  out[ADAM_HYPER.beta2] = beta2;
  out[ADAM_HYPER.oneMinusBeta2] = 1 - beta2;
  out[ADAM_HYPER.invBc2Sqrt] = 1 / Math.sqrt(1 - beta2 ** h.step);
  out[ADAM_HYPER.eps] = eps;
  out[ADAM_HYPER.l2] = h.decoupled ? 0 : wd;
  out[ADAM_HYPER.decay] = h.decoupled ? h.lr * wd : 0;
  // A negative marker rather than +Inf: the kernel never does arithmetic on an infinity.
  out[ADAM_HYPER.maxNorm] = Number.isFinite(maxNorm) ? maxNorm : -1;
  out[ADAM_HYPER.lr] = h.lr;
  out[ADAM_HYPER.step] = h.step;
  // Rounding to f32 could push a huge finite threshold to Inf: refuse instead of clipping by Inf.
  if (!Number.isFinite(out[ADAM_HYPER.maxNorm]!) || !Number.isFinite(out[ADAM_HYPER.stepSize]!)) {
    bad('maxNorm or lr/(1 − beta1^step) overflows f32');
  }
  return out;
}

/** Queues this step's hyper-parameters (queue.writeBuffer; lands before the next submit). */
export function writeAdamHyper(ctx: GpuContext, hyper: Tensor, h: AdamHyperParams): void {
  assertShape('writeAdamHyper', 'hyper', hyper.shape, [ADAM_HYPER_LEN]);
  if (hyper.dtype !== 'f32') throw new ShapeError('writeAdamHyper', `hyper must be f32, got ${hyper.dtype}`);
  writeTensor(ctx, hyper, adamHyperValues(h));
}

/** Scratch tensors of one optimizer step (the gradient-norm partial sums). */
export function adamScratch(P: number): { name: string; shape: number[]; dtype: DType }[] {
  return gradNormScratch(P);
}

export interface AdamStepTensors {
  params: Tensor;
  grads: Tensor;
  m: Tensor;
  v: Tensor;
  hyper: Tensor;
  gradNorm: Tensor;
}

/**
 * The Adam/AdamW update of every element. The variant (Adam vs AdamW), lr, bias corrections and
 * the clip threshold all come from `hyper`, so one prepared op serves every step and both variants.
 */
export function prepareAdamStep(ctx: GpuContext, dims: { P: number }, t: AdamStepTensors): Promise<PreparedOp> {
  const op = 'adamStep';
  const { P } = dims;
  const shapes: Shapes = { P, params: t.params.shape, grads: t.grads.shape, m: t.m.shape, v: t.v.shape, hyper: t.hyper.shape, gradNorm: t.gradNorm.shape };
  if (!Number.isInteger(P) || P < 4) {
    throw new ShapeError(op, `P must be an integer ≥ 4 (the vec4 view needs a 16-byte binding), got ${P}`, shapes);
  }
  ctx.checkLimit(op, 'maxStorageBufferBindingSize', 4 * P, shapes);
  const expected: [keyof AdamStepTensors, number][] = [
    ['params', P], ['grads', P], ['m', P], ['v', P], ['hyper', ADAM_HYPER_LEN], ['gradNorm', GRAD_NORM_STATS_LEN],
  ];
  for (const [name, n] of expected) {
    if (t[name].dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t[name].dtype}`, shapes);
    assertShape(op, name, t[name].shape, [n]);
  }
  // params/m/v are written, so an overlap would race; an overlap among the others is a planner bug.
  assertDisjoint(op, { params: t.params, grads: t.grads, m: t.m, v: t.v, hyper: t.hyper, gradNorm: t.gradNorm }, shapes);
  const P4 = Math.floor(P / 4);
  const constants = { P, P4, WG: ADAM_WG };
  const bindings = [t.params, t.grads, t.m, t.v, t.hyper, t.gradNorm];
  const specs: DispatchSpec[] = [
    { shader: adamShader, entryPoint: 'adamVec4', constants, bindings, workgroups: grid1d(ctx, ceilDiv(P4, ADAM_WG)) },
  ];
  if (P % 4 !== 0) {
    specs.push({ shader: adamShader, entryPoint: 'adamTail', constants, bindings, workgroups: [1] });
  }
  return prepareDispatches(ctx, op, shapes, specs, { flops: 16 * P, bytes: 28 * P });
}
