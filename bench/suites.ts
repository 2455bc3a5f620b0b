// Benchmark suites by name (the CLI's list). Each suite lives in its own file, next to its naive
// baselines, and is loaded only when selected. The browser-safe ones are bench/suitesBrowser.ts's.
import { KERNEL_SUITES } from './suitesBrowser.ts';
import type { BenchSuite } from './types.ts';

export const SUITES: Record<string, () => Promise<BenchSuite>> = {
  ...KERNEL_SUITES,
  data: async () => (await import('./data.ts')).dataSuite,
  e2e: async () => (await import('./e2e.ts')).e2eSuite,
  tuned: async () => (await import('./tuned.ts')).tunedSuite,
  soak: async () => (await import('./soak.ts')).soakSuite,
};
