import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // Two cores: integration suites each run real mediasoup workers, ffmpeg or Chromium.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
