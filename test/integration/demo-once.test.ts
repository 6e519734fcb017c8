// `npm start -- --once` (ztmesh demo --once): a real CA, two real sidecars, traffic, a refusal and two forced
// rotations under a streaming connection; exits 0 within 60 s only if every step behaved, and leaves no process.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('demo --once', () => {
  it('runs every step and exits 0 within 60 s', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ztmesh-demo-')), 'state');
    const started = Date.now();
    try {
      const r = await runCli(['demo', '--once', '--dir', dir], { timeoutMs: 60_000 });
      expect(r.stdout).toContain('demo OK: every step behaved');
      expect(r.stdout).not.toContain('✘');
      expect(r.code).toBe(0);
      expect(Date.now() - started).toBeLessThan(60_000);
      for (const step of ['through two sidecars', 'reason=no_client_cert', 'rotation 1: new serials', 'rotation 2: new serials', 'kept streaming across both rotations']) {
        expect(r.stdout).toContain(step);
      }
      expect(r.stdout).toMatch(/web admin: http:\/\/127\.0\.0\.1:\d+\/status/);
      // The hint uses a tool every machine with ztmesh has (no nc on a fresh Debian).
      expect(r.stdout).toMatch(/try it: +echo hello \| npx ztmesh connect 127\.0\.0\.1:\d+ /);
      expect(r.stdout).not.toMatch(/\| nc /);
      // It marked the directory it made as its own.
      expect(existsSync(join(dir, '.ztmesh-demo'))).toBe(true);
      // Its children are gone.
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      expect(ps.split('\n').filter((l) => l.includes(dir))).toEqual([]);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
