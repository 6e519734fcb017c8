import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A private TMPDIR per run, checked empty at the end; each file's tempDir()s removed when it ends.
    globalSetup: ['test/setup/no-leftovers.ts'],
    setupFiles: ['test/setup/remove-temp-dirs.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
