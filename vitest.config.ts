import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 30_000,
  hookTimeout: 90_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/hosts/**'],
          // Two cores: integration suites each run real mediasoup workers, ffmpeg or Chromium.
          maxWorkers: 2,
        },
      },
      {
        test: {
          ...shared,
          name: 'hosts',
          include: ['test/hosts/**/*.test.ts'],
          // Several nodes in network namespaces and Chromium per file, with freeze and recovery
          // bars: one file at a time, after the rest (a second heavy file on the same two cores
          // made a 1.5 s decode stall out of 2 % loss once).
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
