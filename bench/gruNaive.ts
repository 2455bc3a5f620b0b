// Per-step GRU baseline (see gruNaive.wgsl): T forward dispatches, T + 1 backward-recurrence
// dispatches, then plain weight-gradient and dx kernels — all recorded into one pass / one command
// encoder, so what it measures is the per-step structure, not JS overhead.
import type { GpuContext } from '../src/runtime/device.ts';
import { ceilDiv, prepareDispatches, type DispatchSpec, type PreparedOp } from '../src/runtime/kernel.ts';
import { tensorView, writeTensor, type Tensor } from '../src/runtime/tensor.ts';
import { grid1d } from '../src/shaders/elementwise.ts';
import type { GruDims, GruParamTensors, ScratchSpec } from '../src/shaders/gru.ts';
import code from './gruNaive.wgsl?raw';

const shader = { name: 'gruNaive', code } as const;
const WG = 64;
/** One step index per 256 bytes: each step binds its own view (storage offsets align to 256). */
const STEP_STRIDE_WORDS = 64;

export function gruNaiveScratch(d: GruDims): ScratchSpec[] {
  return [
    { name: 'steps', shape: [(d.T + 1) * STEP_STRIDE_WORDS], dtype: 'u32' },
    { name: 'dG', shape: [d.B, d.T, 4, d.H], dtype: 'f32' },
    { name: 'gz', shape: [d.B, d.T, d.H], dtype: 'f32' },
  ];
}

/** Fills the step indices 0..T once (before the first run). */
export function writeGruNaiveSteps(ctx: GpuContext, steps: Tensor, T: number): void {
  const data = new Uint32Array((T + 1) * STEP_STRIDE_WORDS);
  for (let t = 0; t <= T; t++) data[t * STEP_STRIDE_WORDS] = t;
  writeTensor(ctx, steps, data);
}

function stepView(ctx: GpuContext, steps: Tensor, t: number): Tensor {
  return tensorView(ctx, steps.buffer, steps.byteOffset + t * STEP_STRIDE_WORDS * 4, [1], 'u32', `step${t}`);
}

export interface NaiveForwardArgs { x: Tensor; h0: Tensor; params: GruParamTensors; out: Tensor; saved: Tensor; steps: Tensor }

export interface NaiveBackwardArgs {
  dOut: Tensor; dhT: Tensor; x: Tensor; h0: Tensor; out: Tensor; saved: Tensor; params: GruParamTensors;
  dx: Tensor; dh0: Tensor; dWeightIh: Tensor; dWeightHh: Tensor; dBiasIh: Tensor; dBiasHh: Tensor;
  steps: Tensor; dG: Tensor; gz: Tensor;
}

export function prepareGruNaiveForward(ctx: GpuContext, d: GruDims, a: NaiveForwardArgs): Promise<PreparedOp> {
  return prepareDispatches(ctx, 'gruNaiveForward', { ...d }, naiveForwardSpecs(ctx, d, a), { flops: 2 * d.B * d.T * 3 * d.H * (d.C + d.H) });
}

export function prepareGruNaiveBackward(ctx: GpuContext, d: GruDims, a: NaiveBackwardArgs, accumulate = false): Promise<PreparedOp> {
  const flops = 2 * d.B * d.T * 3 * d.H * (2 * d.C + 2 * d.H);
  return prepareDispatches(ctx, 'gruNaiveBackward', { ...d }, naiveBackwardSpecs(ctx, d, a, accumulate), { flops });
}

export function naiveForwardSpecs(ctx: GpuContext, d: GruDims, a: NaiveForwardArgs): DispatchSpec[] {
  const { B, T, C, H } = d;
  const specs: DispatchSpec[] = [];
  for (let t = 0; t < T; t++) {
    specs.push({
      shader, entryPoint: 'forwardStep', constants: { B, T, C, H, WG },
      bindings: [a.x, a.params.weightIh, a.params.weightHh, a.params.biasIh, a.params.biasHh, a.h0, a.out, a.saved, stepView(ctx, a.steps, t)],
      workgroups: grid1d(ctx, ceilDiv(B * H, WG)),
    });
  }
  return specs;
}

/** The T + 1 per-step dispatches first, then weightGrads, then inputGrad. */
export function naiveBackwardSpecs(ctx: GpuContext, d: GruDims, a: NaiveBackwardArgs, accumulate: boolean): DispatchSpec[] {
  const { B, T, C, H } = d;
  const specs: DispatchSpec[] = [];
  const order = [...Array.from({ length: T }, (_, i) => T - 1 - i), T];
  for (const t of order) {
    specs.push({
      shader, entryPoint: 'backwardStep', constants: { B, T, H, WG },
      bindings: [a.saved, a.dOut, a.out, a.h0, a.params.weightHh, a.dhT, a.dG, a.gz, a.dh0, stepView(ctx, a.steps, t)],
      workgroups: grid1d(ctx, ceilDiv(B * H, WG)),
    });
  }
  specs.push({
    shader, entryPoint: 'weightGrads', constants: { B, T, C, H, WG },
    bindings: [a.dG, a.x, a.out, a.h0, a.dWeightIh, a.dWeightHh, a.dBiasIh, a.dBiasHh],
    workgroups: grid1d(ctx, ceilDiv(3 * H * C + 3 * H * H + 6 * H, WG)),
  });
  specs.push({
    shader, entryPoint: 'inputGrad', constants: { B, T, C, H, WG, ACCUMULATE: accumulate ? 1 : 0 },
    bindings: [a.dG, a.params.weightIh, a.dx],
    workgroups: grid1d(ctx, ceilDiv(B * T * C, WG)),
  });
  return specs;
}
