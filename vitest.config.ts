import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Kernel-variant and f16 tests run twice: on lavapipe (the default Vulkan driver) and on
// SwiftShader (Chromium's software Vulkan, the browser tests' adapter), because the tuner may pick
// different variants on each and every variant must meet the oracle on both. Dawn chooses its
// Vulkan driver when it initialises, so the second pass is its own project with VK_ICD_FILENAMES
// set; CPC_WEBGPU_EXPECT_ADAPTER makes testDevice() refuse to run on the wrong adapter.
const BOTH_ADAPTERS = ['tests/**/*Variants.test.ts', 'tests/**/*.f16.test.ts'];
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
// Tests never read or write the user's caches (the kernel tuning cache would change which variants
// a CLI run uses, and so its exact losses): one fresh folder per test run (a test may set its own).
const CACHE_DIR = join(tmpdir(), `cpc-webgpu-test-cache-${process.pid}`);

export default defineConfig({
  test: {
    // dawn.node is a native addon holding a Vulkan instance: separate processes are the safe
    // isolation (DESIGN.md §6), and two workers match the 2-core machines we run on.
    pool: 'forks',
    maxWorkers: 2,
    // A timeout catches hangs; it is not a speed check. Cold lavapipe/SwiftShader pipeline compiles
    // dominate the kernel-variant and oracle tests, and on the shared 2-core machine under load a
    // cold-cache run measured 107–120 s for tests that take 5–20 s warm.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    globalSetup: ['tests/helpers/globalSetup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'lavapipe', include: ['tests/**/*.test.ts'], env: { XDG_RUNTIME_DIR: '/tmp', CPC_WEBGPU_CACHE_DIR: CACHE_DIR } },
      },
      {
        extends: true,
        test: {
          name: 'swiftshader',
          include: BOTH_ADAPTERS,
          env: { XDG_RUNTIME_DIR: '/tmp', CPC_WEBGPU_CACHE_DIR: CACHE_DIR, VK_ICD_FILENAMES: SWIFTSHADER_ICD, CPC_WEBGPU_EXPECT_ADAPTER: 'swiftshader' },
        },
      },
    ],
  },
});
