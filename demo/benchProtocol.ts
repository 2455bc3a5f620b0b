// Messages between the bench page (demo/bench.ts) and its worker (demo/benchWorker.ts). The worker
// owns the GPU device; the page only renders, so a long suite never freezes the page.
import type { BenchReport } from '../bench/run.ts';
import type { BenchResult, Peak } from '../bench/types.ts';

export interface BenchRunRequest {
  type: 'run';
  suites: string[];
  quick: boolean;
  paper: boolean;
}

export type BenchToPage =
  | { type: 'ready'; adapter: BenchReport['adapter']; features: string[]; suites: string[] }
  | { type: 'log'; msg: string }
  | { type: 'peak'; peak: Peak }
  | { type: 'suite-start'; suite: string; index: number; total: number }
  | { type: 'rows'; suite: string; rows: BenchResult[] }
  | { type: 'done'; report: BenchReport }
  | { type: 'error'; kind: 'no-webgpu' | 'device-lost' | 'internal'; name: string; message: string };

export type PageToBench = BenchRunRequest | { type: 'init' };
