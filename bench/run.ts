// One benchmark run, shared by `cpc-webgpu bench` (src/cli/bench.ts) and the browser bench page
// (demo/benchWorker.ts), so both produce the same object (DESIGN.md §8): the adapter, the peak
// measured in the same run, then each suite's rows in the order asked.
import type { GpuContext } from '../src/runtime/device.ts';
import { measurePeak } from './peak.ts';
import type { BenchResult, BenchSuite, Peak } from './types.ts';

/** `cpc-webgpu bench --json`'s object. */
export interface BenchReport {
  adapter: { vendor: string; architecture: string; description: string };
  peak: Peak;
  results: BenchResult[];
}

export interface BenchRunOptions {
  quick: boolean;
  paper: boolean;
  /** The e2e suite's presets; default its own (tiny, small, paper when `paper`). */
  presets?: readonly string[];
  log(msg: string): void;
  /** After the peak is measured (before any suite). */
  onPeak?(peak: Peak): void;
  /** Before each suite: its name, its place in the run (from 0) and the number of suites. */
  onSuiteStart?(name: string, index: number, total: number): void;
  /** After each suite, with its rows. */
  onSuite?(name: string, rows: BenchResult[]): void;
}

export async function runBench(ctx: GpuContext, suites: ReadonlyMap<string, BenchSuite>, opts: BenchRunOptions): Promise<BenchReport> {
  const { quick, paper, presets, log } = opts;
  log(`adapter: ${ctx.adapter.description}`);
  const peak = await measurePeak(ctx, quick);
  log(`peak: ${peak.fma_gflops} GFLOP/s FMA, ${peak.copy_gbps} GB/s copy`);
  opts.onPeak?.(peak);
  const results: BenchResult[] = [];
  let index = 0;
  for (const [name, suite] of suites) {
    log(`-- ${name}`);
    opts.onSuiteStart?.(name, index++, suites.size);
    const rows = await suite.run({ ctx, peak, quick, paper, presets, log });
    results.push(...rows);
    opts.onSuite?.(name, rows);
  }
  const { vendor, architecture, description } = ctx.adapter;
  return { adapter: { vendor, architecture, description }, peak, results };
}
