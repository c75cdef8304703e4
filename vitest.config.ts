import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // nvcc builds take tens of seconds each on a 2-core machine.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // Child processes (nvcc, node, python3) rather than threads; at most two test files at a time.
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
  },
});
