// The benchmark suites that run wherever WebGPU does, the browser bench page (demo/bench.html)
// included: they import only src/runtime, src/shaders, src/cpc and WGSL — no Node module, no Node
// device. bench/suites.ts (the CLI's list) adds the Node-only ones: `data` (a corpus on disk, child
// processes), `soak`, and the e2e suite's peers (tfjs on Dawn, PyTorch in a subprocess).
import type { BenchSuite } from './types.ts';

export const KERNEL_SUITES: Record<string, () => Promise<BenchSuite>> = {
  conv: async () => (await import('./conv.ts')).convSuite,
  gru: async () => (await import('./gru.ts')).gruSuite,
  infonce: async () => (await import('./infonce.ts')).infonceSuite,
  adam: async () => (await import('./adam.ts')).adamSuite,
};

/** The page's suites: the kernel suites and e2e without peers (same rows as the CLI's, minus the peer fields). */
export const BROWSER_SUITES: Record<string, () => Promise<BenchSuite>> = {
  ...KERNEL_SUITES,
  e2e: async () => (await import('./e2eCore.ts')).e2eSuiteWith([]),
};
