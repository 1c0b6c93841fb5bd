import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // tfjs backends are process-global; one worker process per file keeps them apart.
    pool: 'forks',
    fileParallelism: false,
  },
});
