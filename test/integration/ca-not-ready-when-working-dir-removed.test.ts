// A CA whose working directory is removed cannot rebuild a signing worker (Node's worker threads need it), so it
// must not claim to be ready: /readyz turns 503 within 2 s, it drains and exits 1 with one plain stderr line
// naming the directory. Started from a directory that no longer exists, it refuses to start with the same message.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { initCa } from '../helpers/ca.js';
import { LineProcess } from '../helpers/line-process.js';

/** `ztmesh ca serve` started by a shell from `cwd` (so the test can remove that directory under it). */
function serveFrom(cwd: string, caDir: string, before = ''): LineProcess {
  const args = ['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--sign-workers', '1', '--drain', '1s'];
  return new LineProcess(['sh', '-c', `cd "$0" ${before} && exec "${process.execPath}" "${BIN}" "$@"`, cwd, ...args]);
}

describe('CA whose working directory is removed', () => {
  let caDir: string;
  beforeAll(async () => { caDir = await initCa(); });
  afterAll(() => rmSync(join(caDir, '..'), { recursive: true, force: true }));

  it('turns 503 within 2 s, then drains and exits 1 with one plain line', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ztmesh-ca-cwd-'));
    const ca = serveFrom(cwd, caDir);
    try {
      const info = JSON.parse(await ca.waitFor(/"msg":"ztmesh ca serving"/)) as { admin: string };
      const readyz = async () => (await fetch(`http://${info.admin}/readyz`)).status;
      const start = Date.now();
      while ((await readyz()) !== 200) {
        if (Date.now() - start > 10_000) throw new Error('never ready');
        await new Promise((r) => setTimeout(r, 50));
      }
      rmSync(cwd, { recursive: true, force: true });
      const removed = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - removed < 2_000) {
        status = await readyz().catch(() => 0);
        if (status === 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(503);
      expect(await ca.exited).toBe(1);
      const plain = ca.lines.filter((l) => l.startsWith('ztmesh '));
      expect(plain).toEqual([`ztmesh ca serve: the working directory ${cwd} was removed while the CA was running: signing workers cannot be rebuilt; start the CA from an existing directory (working_dir_missing)`]);
      expect(ca.json().some((l) => l.msg === 'CA not ready: working directory removed; stopping')).toBe(true);
    } finally {
      await ca.stop();
    }
  });

  it('started from a removed directory, it refuses to start with a clear message', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ztmesh-ca-cwd-'));
    const ca = serveFrom(cwd, caDir, `&& rmdir "$0"`);
    try {
      expect(await Promise.race([ca.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])).toBe(1);
      expect(ca.lines.filter((l) => l.startsWith('ztmesh '))).toEqual([
        `ztmesh ca serve: the working directory ${cwd} was removed: signing workers cannot start; start the CA from an existing directory (working_dir_missing)`,
      ]);
    } finally {
      await ca.stop();
    }
  });
});
