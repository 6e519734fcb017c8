// Temp dirs for tests: each is removed when the test file that made it ends (test/setup/remove-temp-dirs.ts, after
// the file's own afterAll hooks), passed or failed. The run fails on anything left behind (test/setup/no-leftovers.ts).
//
//   const dir = tempDir('ztmesh-audit-');   // instead of mkdtempSync(join(tmpdir(), 'ztmesh-audit-'))
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

/** A new directory `<prefix>XXXXXX` in the temp dir, removed when this test file ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes every directory tempDir() made in this test file (the setup file calls it once the file is done). */
export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  made.clear();
}
