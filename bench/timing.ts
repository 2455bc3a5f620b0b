// Median GPU time of a list of prepared ops. GPU time comes from timestamp-query when the device
// has it (each op its own pass, summed), else wall-clock submit -> onSubmittedWorkDone.
import type { GpuContext } from '../src/runtime/device.ts';
import type { PreparedOp } from '../src/runtime/kernel.ts';
import { Profiler, timeSubmit } from '../src/runtime/profiler.ts';

export interface TimingOptions {
  warmup?: number;
  reps?: number;
  /** Stop repeating once this much time was spent (ms), after at least 3 reps. */
  budgetMs?: number;
}

import { median } from '../src/runtime/median.ts';

export { median };

const profilers = new WeakMap<GpuContext, Profiler>();

export async function timeOps(ctx: GpuContext, ops: readonly PreparedOp[], opts: TimingOptions = {}): Promise<number> {
  const warmup = opts.warmup ?? 1;
  const reps = opts.reps ?? 7;
  const budget = opts.budgetMs ?? 20_000;
  let prof = profilers.get(ctx);
  if (!prof) { prof = new Profiler(ctx, 1024); profilers.set(ctx, prof); }
  const p = prof;
  // Timestamp queries hold at most `capacity` ops; larger op lists fall back to whole-submit timing.
  const once = ops.length <= 1024 && p.usesTimestamps
    ? async () => (await p.profile(ops)).totalMs
    : () => timeSubmit(ctx, ops);
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    times.push(await once());
    if (i >= 2 && performance.now() - t0 > budget) break;
  }
  return median(times);
}
