// Launch specs for the naive Conv1d baselines (convNaive.wgsl): one invocation per output element.
// Forward = 1 dispatch; backward = ReLU grad, dW, db, (dx) — the same work as the real backward.
import type { GpuContext } from '../src/runtime/device.ts';
import { ceilDiv, type DispatchSpec } from '../src/runtime/kernel.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import type { Conv1dDims } from '../src/shaders/conv1d.ts';
import { grid1d } from '../src/shaders/elementwise.ts';
import code from './convNaive.wgsl?raw';

const shader = { name: 'convNaive', code } as const;

function constants(d: Conv1dDims): Record<string, number> {
  return { B: d.B, CIN: d.Cin, TIN: d.Tin, COUT: d.Cout, K: d.K, S: d.stride, TOUT: d.Tout };
}

export function naiveForwardSpecs(ctx: GpuContext, d: Conv1dDims, t: { x: Tensor; weight: Tensor; bias: Tensor; y: Tensor }): DispatchSpec[] {
  return [{
    shader, entryPoint: 'forward', constants: constants(d), bindings: [t.x, t.weight, t.bias, t.y],
    workgroups: grid1d(ctx, ceilDiv(d.B * d.Tout * d.Cout, 64)),
  }];
}

export function naiveBackwardSpecs(
  ctx: GpuContext, d: Conv1dDims,
  t: { x: Tensor; weight: Tensor; y: Tensor; dy: Tensor; du: Tensor; dx: Tensor | null; dWeight: Tensor; dBias: Tensor },
): DispatchSpec[] {
  const c = constants(d);
  const specs: DispatchSpec[] = [
    { shader, entryPoint: 'reluGrad', constants: c, bindings: [t.dy, t.y, t.du], workgroups: grid1d(ctx, ceilDiv(d.B * d.Tout * d.Cout, 64)) },
    { shader, entryPoint: 'weightGrad', constants: c, bindings: [t.x, t.du, t.dWeight], workgroups: grid1d(ctx, ceilDiv(d.Cout * d.Cin * d.K, 64)) },
    { shader, entryPoint: 'biasGrad', constants: c, bindings: [t.du, t.dBias], workgroups: [ceilDiv(d.Cout, 64)] },
  ];
  if (t.dx) {
    specs.push({ shader, entryPoint: 'inputGrad', constants: c, bindings: [t.du, t.weight, t.dx], workgroups: grid1d(ctx, ceilDiv(d.B * d.Tin * d.Cin, 64)) });
  }
  return specs;
}
