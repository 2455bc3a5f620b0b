// A prepared kernel dispatch: pipeline and bind group are created once (at plan time) against fixed
// tensors, so encoding a step is only setPipeline / setBindGroup / dispatch. Every launcher in
// src/shaders validates shapes and limits before it returns one of these.
import type { GpuContext } from './device.ts';
import { ShapeError, type Shapes } from './errors.ts';
import { pipelineCache, type PipelineKey } from './pipelines.ts';
import type { Tensor } from './tensor.ts';

export type Workgroups = readonly [number, number?, number?];

export interface PreparedOp {
  /** Op name, used by errors and the profiler (e.g. `conv1dForward.l2`). */
  readonly name: string;
  readonly shapes: Shapes;
  /** Records the op's dispatch(es) into an open compute pass. */
  encode(pass: GPUComputePassEncoder): void;
  /** Floating-point operations per run, for GFLOP/s reports (0 when not meaningful). */
  readonly flops: number;
  /** Bytes read + written per run at minimum (compulsory traffic), for GB/s reports. */
  readonly bytes: number;
}

/** Any binding: a tensor, or a raw buffer range (uniforms, staging). */
export type Binding = Tensor | { buffer: GPUBuffer; offset?: number; size?: number };

function bufferBinding(b: Binding): GPUBufferBinding {
  if ('shape' in b) return { buffer: b.buffer, offset: b.byteOffset, size: b.byteLength };
  return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size };
}

/** Checks workgroup counts against maxComputeWorkgroupsPerDimension, naming the op. */
export function checkWorkgroups(ctx: GpuContext, op: string, wg: Workgroups, shapes?: Shapes): [number, number, number] {
  const dims: [number, number, number] = [wg[0], wg[1] ?? 1, wg[2] ?? 1];
  dims.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `workgroup count ${'xyz'[i]} = ${d} is not a non-negative integer`, shapes);
    ctx.checkLimit(op, 'maxComputeWorkgroupsPerDimension', d, shapes);
  });
  return dims;
}

/** Creates a bind group for group 0 of `pipeline` with `bindings` at @binding(0..n-1). */
export function createBindGroup(ctx: GpuContext, op: string, pipeline: GPUComputePipeline, bindings: readonly Binding[]): GPUBindGroup {
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  bindings.forEach((b, i) => {
    const bb = bufferBinding(b);
    if ((bb.offset ?? 0) % align !== 0) {
      throw new ShapeError(op, `binding ${i} offset ${bb.offset} is not a multiple of ${align}`);
    }
    if (bb.size !== undefined) ctx.checkLimit(op, 'maxStorageBufferBindingSize', bb.size, { binding: i });
  });
  return ctx.device.createBindGroup({
    label: op,
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((b, i) => ({ binding: i, resource: bufferBinding(b) })),
  });
}

export interface DispatchSpec extends PipelineKey {
  readonly bindings: readonly Binding[];
  readonly workgroups: Workgroups;
}

/**
 * Prepares a sequence of dispatches as one op. Each entry gets its own pipeline (cached) and bind
 * group; they run in order within the op, and WebGPU orders storage writes between dispatches.
 */
export async function prepareDispatches(
  ctx: GpuContext, name: string, shapes: Shapes, specs: readonly DispatchSpec[], cost: { flops?: number; bytes?: number } = {},
): Promise<PreparedOp> {
  const cache = pipelineCache(ctx);
  const prepared = await Promise.all(specs.map(async (s, i) => {
    const op = specs.length > 1 ? `${name}[${i}]` : name;
    const wg = checkWorkgroups(ctx, op, s.workgroups, shapes);
    const pipeline = await cache.get(s);
    // Bind-group validation (usage flags, sizes against the shader) is WebGPU's; scope it so a
    // failure names this op instead of surfacing later as an anonymous uncaptured error.
    const bindGroup = await ctx.scoped(op, shapes, () => createBindGroup(ctx, op, pipeline, s.bindings));
    return { pipeline, bindGroup, wg };
  }));
  return {
    name,
    shapes,
    flops: cost.flops ?? 0,
    bytes: cost.bytes ?? 0,
    encode(pass) {
      for (const p of prepared) {
        if (p.wg[0] * p.wg[1] * p.wg[2] === 0) continue;
        pass.setPipeline(p.pipeline);
        pass.setBindGroup(0, p.bindGroup);
        pass.dispatchWorkgroups(p.wg[0], p.wg[1], p.wg[2]);
      }
    },
  };
}

/**
 * Runs prepared ops once, in order, in one command buffer and one submit, inside error scopes
 * that name the op. Used by tests, benchmarks and one-off work; the trainer encodes its own step.
 */
export async function runOps(ctx: GpuContext, ops: readonly PreparedOp[], label = 'runOps'): Promise<void> {
  const opName = ops.length === 1 ? ops[0]!.name : `${label}(${ops.map((o) => o.name).join(', ')})`;
  await ctx.scoped(opName, ops.length === 1 ? ops[0]!.shapes : undefined, async () => {
    const enc = ctx.device.createCommandEncoder({ label });
    for (const op of ops) {
      const pass = enc.beginComputePass({ label: op.name });
      op.encode(pass);
      pass.end();
    }
    ctx.device.queue.submit([enc.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
  });
}

/** Ceil division for workgroup counts. */
export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
