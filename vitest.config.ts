import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // dawn.node is a native addon holding a Vulkan instance: separate processes are the safe
    // isolation (DESIGN.md §6), and two workers match the 2-core machines we run on.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['tests/helpers/globalSetup.ts'],
    env: { XDG_RUNTIME_DIR: '/tmp' },
  },
});
