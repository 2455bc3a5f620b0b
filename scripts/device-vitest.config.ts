// The kernel-vs-oracle tests as scripts/device-check.sh runs them on a lent GPU machine: one project
// (the machine's own Vulkan driver; no SwiftShader there, no Chromium), no globalSetup (it rebuilds
// dist/ with esbuild and tsc, which the device pack does not carry: dist/ comes built), and more
// workers, since such machines have many cores and the float64 oracle is CPU work.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export const DEVICE_KERNEL_TESTS = [
  'tests/conv1d.test.ts', 'tests/gru.test.ts', 'tests/infonce.test.ts', 'tests/adam.test.ts', 'tests/gradNorm.test.ts',
  'tests/encoderStack.test.ts', 'tests/predictor.test.ts', 'tests/runtime.test.ts', 'tests/trainer.test.ts',
  'tests/**/*Variants.test.ts', 'tests/**/*.f16.test.ts',
];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    pool: 'forks',
    maxWorkers: Number(process.env.CPC_DEVICE_TEST_WORKERS ?? 8),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // CPC_DEVICE_TESTS (comma-separated) narrows the list, e.g. the local quick run.
    include: process.env.CPC_DEVICE_TESTS ? process.env.CPC_DEVICE_TESTS.split(',') : DEVICE_KERNEL_TESTS,
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  },
});
