import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A private TMPDIR per run, checked empty at the end; each file's tempDir()s removed when it ends.
    globalSetup: ['test/setup/no-leftovers.ts'],
    setupFiles: ['test/setup/remove-temp-dirs.ts'],
    pool: 'forks',
    // Two test files at a time on the 2-core CI machine (vitest's default is cores - 1, one file at a time): most of a
    // file's time is its child processes waiting on sockets and timers, so two halve the suite (about 560 s → 340 s).
    // The tests wait on conditions, not on time, so they hold under the doubled load.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
