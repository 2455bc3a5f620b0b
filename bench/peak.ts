import type { GpuContext } from '../src/runtime/device.ts';
import { ceilDiv, prepareDispatches } from '../src/runtime/kernel.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import { grid1d } from '../src/shaders/elementwise.ts';
import type { Peak } from './types.ts';
import { timeOps } from './timing.ts';
import code from './peak.wgsl?raw';

const shader = { name: 'bench.peak', code } as const;

/** Measures FMA throughput and copy bandwidth of the adapter (best of the medians). */
export async function measurePeak(ctx: GpuContext, quick = false): Promise<Peak> {
  const wg = 64;
  const invocations = wg * 1024;
  const iters = 512;
  const sink = createTensor(ctx, [invocations * 4], 'f32', 'peak.sink');
  const fmaOp = await prepareDispatches(ctx, 'peak.fma', {}, [{
    shader, entryPoint: 'fmaPeak', constants: { ITERS: iters, WG: wg },
    bindings: [sink], workgroups: [invocations / wg],
  }], { flops: invocations * iters * 8 * 4 * 2 });
  const n4 = (quick ? 4 : 16) * 1024 * 1024 / 16; // 4 or 16 MiB of vec4
  const src = createTensor(ctx, [n4 * 4], 'f32', 'peak.src');
  const dst = createTensor(ctx, [n4 * 4], 'f32', 'peak.dst');
  const copyOp = await prepareDispatches(ctx, 'peak.copy', {}, [{
    shader, entryPoint: 'copyPeak', constants: { N4: n4, WG: wg },
    bindings: [src, dst], workgroups: grid1d(ctx, ceilDiv(n4, wg)),
  }], { bytes: n4 * 32 });
  const reps = quick ? 3 : 7;
  const fmaMs = await timeOps(ctx, [fmaOp], { reps });
  const copyMs = await timeOps(ctx, [copyOp], { reps });
  sink.buffer.destroy(); src.buffer.destroy(); dst.buffer.destroy();
  return {
    fma_gflops: Math.round((fmaOp.flops / (fmaMs * 1e6)) * 100) / 100,
    copy_gbps: Math.round((copyOp.bytes / (copyMs * 1e6)) * 100) / 100,
  };
}
