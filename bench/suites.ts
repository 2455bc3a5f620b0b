// Benchmark suites by name. Each suite lives in its own file, next to its naive baselines, and is
// loaded only when selected.
import type { BenchSuite } from './types.ts';

export const SUITES: Record<string, () => Promise<BenchSuite>> = {
  conv: async () => (await import('./conv.ts')).convSuite,
  gru: async () => (await import('./gru.ts')).gruSuite,
  infonce: async () => (await import('./infonce.ts')).infonceSuite,
  adam: async () => (await import('./adam.ts')).adamSuite,
  data: async () => (await import('./data.ts')).dataSuite,
  e2e: async () => (await import('./e2e.ts')).e2eSuite,
  tuned: async () => (await import('./tuned.ts')).tunedSuite,
  soak: async () => (await import('./soak.ts')).soakSuite,
};
