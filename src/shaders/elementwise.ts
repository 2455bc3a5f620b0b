import type { GpuContext } from '../runtime/device.ts';
import { assertShape } from '../runtime/errors.ts';
import { ceilDiv, prepareDispatches, type PreparedOp } from '../runtime/kernel.ts';
import { numel, type Tensor } from '../runtime/tensor.ts';
import code from './elementwise.wgsl?raw';

export const scaleShiftShader = { name: 'elementwise', code } as const;

/** Splits a 1-D count of workgroups into (x, y) so neither exceeds the per-dimension limit. */
export function grid1d(ctx: GpuContext, groups: number): [number, number] {
  const maxX = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxX) return [groups, 1];
  return [maxX, ceilDiv(groups, maxX)];
}

/** out = x * alpha + beta, elementwise (f32). */
export function prepareScaleShift(ctx: GpuContext, x: Tensor, out: Tensor, alpha: number, beta: number): Promise<PreparedOp> {
  const op = 'scaleShift';
  assertShape(op, 'out', out.shape, x.shape);
  const n = numel(x.shape);
  const wg = 64;
  return prepareDispatches(ctx, op, { x: x.shape }, [{
    shader: scaleShiftShader,
    constants: { N: n, alpha, beta, WG: wg },
    bindings: [x, out],
    workgroups: grid1d(ctx, ceilDiv(n, wg)),
  }], { flops: 2 * n, bytes: 8 * n });
}
