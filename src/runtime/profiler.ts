// Per-op GPU time. With `timestamp-query`, each op runs in its own compute pass whose begin/end
// timestamps are written to a query set, resolved in the same command buffer and read back through
// the staging ring. Without it, the fallback times the whole submit -> onSubmittedWorkDone per op,
// which includes queue overhead; `source` in the result says which one was used.
import type { GpuContext } from './device.ts';
import type { PreparedOp } from './kernel.ts';
import { StagingRing } from './staging.ts';
import { createBuffer } from './tensor.ts';
import { BufferUsage } from './usage.ts';

export interface OpTiming {
  name: string;
  ms: number;
}

export interface ProfileResult {
  source: 'timestamp-query' | 'wall-clock';
  ops: OpTiming[];
  totalMs: number;
}

export class Profiler {
  private readonly ctx: GpuContext;
  private readonly capacity: number;
  private readonly querySet: GPUQuerySet | null;
  private readonly resolveBuffer: GPUBuffer | null;
  private readonly staging: StagingRing;

  constructor(ctx: GpuContext, capacity = 256, opts: { forceWallClock?: boolean } = {}) {
    this.ctx = ctx;
    this.capacity = capacity;
    const ts = ctx.has('timestamp-query') && !opts.forceWallClock;
    this.querySet = ts ? ctx.device.createQuerySet({ type: 'timestamp', count: capacity * 2, label: 'profiler' }) : null;
    this.resolveBuffer = ts
      ? createBuffer(ctx, capacity * 2 * 8, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, 'profiler.resolve')
      : null;
    this.staging = new StagingRing(ctx, 2);
    ctx.addDisposer(() => { this.querySet?.destroy(); this.resolveBuffer?.destroy(); });
  }

  get usesTimestamps(): boolean {
    return this.querySet !== null;
  }

  /** Runs `ops` once, each in its own pass, and returns the time of each. */
  async profile(ops: readonly PreparedOp[]): Promise<ProfileResult> {
    if (ops.length > this.capacity) throw new Error(`Profiler: ${ops.length} ops exceed capacity ${this.capacity}`);
    const d = this.ctx.device;
    if (!this.querySet || !this.resolveBuffer) {
      const timings: OpTiming[] = [];
      for (const op of ops) {
        const enc = d.createCommandEncoder({ label: `profile ${op.name}` });
        const pass = enc.beginComputePass({ label: op.name });
        op.encode(pass);
        pass.end();
        const t0 = performance.now();
        d.queue.submit([enc.finish()]);
        await d.queue.onSubmittedWorkDone();
        timings.push({ name: op.name, ms: performance.now() - t0 });
      }
      return { source: 'wall-clock', ops: timings, totalMs: timings.reduce((s, t) => s + t.ms, 0) };
    }
    const qs = this.querySet;
    const enc = d.createCommandEncoder({ label: 'profile' });
    ops.forEach((op, i) => {
      const pass = enc.beginComputePass({
        label: op.name,
        timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      op.encode(pass);
      pass.end();
    });
    enc.resolveQuerySet(qs, 0, ops.length * 2, this.resolveBuffer, 0);
    d.queue.submit([enc.finish()]);
    const bytes = await this.staging.readBytes(this.resolveBuffer, 0, ops.length * 16, 'profiler.read');
    const stamps = new BigUint64Array(bytes);
    const timings = ops.map((op, i) => ({
      name: op.name,
      // Timestamps can be quantized or, on some drivers, non-monotonic across passes: clamp at 0.
      ms: Math.max(0, Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1e6),
    }));
    return { source: 'timestamp-query', ops: timings, totalMs: timings.reduce((s, t) => s + t.ms, 0) };
  }
}

/** Wall-clock time of one submit of `ops` (all in one command buffer) until the queue is idle. */
export async function timeSubmit(ctx: GpuContext, ops: readonly PreparedOp[]): Promise<number> {
  const d = ctx.device;
  const enc = d.createCommandEncoder({ label: 'timeSubmit' });
  for (const op of ops) {
    const pass = enc.beginComputePass({ label: op.name });
    op.encode(pass);
    pass.end();
  }
  const cb = enc.finish();
  const t0 = performance.now();
  d.queue.submit([cb]);
  await d.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}
