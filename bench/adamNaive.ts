// Naive optimizer baselines (bench/adamNaive.wgsl): one-workgroup norm, one scalar element per
// thread for the update. Same bindings as the real launchers, so they time on the same tensors.
import type { GpuContext } from '../src/runtime/device.ts';
import { ceilDiv, prepareDispatches, type PreparedOp } from '../src/runtime/kernel.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { grid1d } from '../src/shaders/elementwise.ts';
import code from './adamNaive.wgsl?raw';

const shader = { name: 'bench.adamNaive', code } as const;

export function prepareNaiveGradNorm(ctx: GpuContext, P: number, grads: Tensor, normOut: Tensor): Promise<PreparedOp> {
  return prepareDispatches(ctx, 'adam.naive.gradnorm', { P }, [{
    shader, entryPoint: 'naiveNorm', constants: { P }, bindings: [grads, normOut], workgroups: [1],
  }], { bytes: 4 * P });
}

export function prepareNaiveAdam(
  ctx: GpuContext, P: number, t: { params: Tensor; grads: Tensor; m: Tensor; v: Tensor; hyper: Tensor; gradNorm: Tensor },
): Promise<PreparedOp> {
  const wg = 64;
  return prepareDispatches(ctx, 'adam.naive.update', { P }, [{
    shader, entryPoint: 'naiveAdam', constants: { P, WG: wg },
    bindings: [t.params, t.grads, t.m, t.v, t.hyper, t.gradNorm], workgroups: grid1d(ctx, ceilDiv(P, wg)),
  }], { bytes: 28 * P });
}
