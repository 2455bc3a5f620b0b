// Benchmark result rows in the format of DESIGN.md §8 (`cpc-webgpu bench --json`).
import type { GpuContext } from '../src/runtime/device.ts';

export interface Peak {
  fma_gflops: number;
  copy_gbps: number;
}

export interface BenchResult {
  name: string;
  shape: Record<string, number | string>;
  ms: number;
  gflops: number | null;
  gbps: number | null;
  pct_of_peak: number | null;
  baseline: string | null;
  baseline_ms: number | null;
  speedup: number | null;
  extra_bytes: number | null;
  baseline_extra_bytes: number | null;
  [extra: string]: unknown;
}

export interface BenchContext {
  ctx: GpuContext;
  peak: Peak;
  /** Fewer repetitions and no paper-size shapes: for smoke runs and CI. */
  quick: boolean;
  /** Include the paper-size shapes (`@paper` rows); default on unless quick. */
  paper: boolean;
  /** The e2e suite's presets (`bench --presets`); default tiny, small, and paper when `paper`. */
  presets?: readonly string[];
  /** Progress to stderr (never stdout, which carries the JSON). */
  log(msg: string): void;
}

export interface BenchSuite {
  name: string;
  run(b: BenchContext): Promise<BenchResult[]>;
}

/** Fills the derived fields of a row from its timing and work counts. */
export function makeResult(r: {
  name: string; shape: BenchResult['shape']; ms: number; flops?: number; bytes?: number; peak: Peak;
  baseline?: string; baselineMs?: number; extraBytes?: number; baselineExtraBytes?: number;
  [extra: string]: unknown;
}): BenchResult {
  const { name, shape, ms, flops, bytes, peak, baseline, baselineMs, extraBytes, baselineExtraBytes, ...extra } = r;
  const gflops = flops ? flops / (ms * 1e6) : null;
  const gbps = bytes ? bytes / (ms * 1e6) : null;
  const pct = gflops !== null ? (100 * gflops) / peak.fma_gflops : gbps !== null ? (100 * gbps) / peak.copy_gbps : null;
  return {
    name, shape, ms: round(ms, 4), gflops: gflops === null ? null : round(gflops, 3), gbps: gbps === null ? null : round(gbps, 3),
    pct_of_peak: pct === null ? null : round(pct, 2),
    baseline: baseline ?? null, baseline_ms: baselineMs === undefined ? null : round(baselineMs, 4),
    speedup: baselineMs === undefined ? null : round(baselineMs / ms, 3),
    extra_bytes: extraBytes ?? null, baseline_extra_bytes: baselineExtraBytes ?? null,
    ...extra,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
