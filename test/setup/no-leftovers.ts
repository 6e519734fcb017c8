// Around the whole run (vitest.config.ts globalSetup): every test process gets a private TMPDIR, and the run fails
// when anything is left in it at the end, naming what. So "tests leave nothing behind" is checked on every run, and a
// test that leaks fails its author's run rather than filling the machine's /tmp.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), 'ztmesh-test-run-'));
  // Searchable by every uid: the privileged tests' sidecars run as 1337 and read files from dirs made in here.
  chmodSync(dir, 0o711);
  process.env.TMPDIR = dir;
}

export function teardown(): void {
  if (!dir) return;
  const left = readdirSync(dir);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  if (left.length === 0) return;
  process.stderr.write(`\ntests left ${left.length} entries in the temp dir (removed now; make them with tempDir() from test/helpers/temp-dir.ts): ${left.sort().join(', ')}\n`);
  process.exitCode = 1;
}
