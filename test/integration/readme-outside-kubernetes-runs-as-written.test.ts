// The README's "Running it outside Kubernetes" block, extracted from README.md and run as written by bash: a CA, the
// api and web sidecars, `ztmesh status --wait` for both, and a request through web → mTLS → api → app; then the
// echo app survives clients that reset their connections.
// Substitutions, and only these: `ztmesh` is bin/ztmesh.js linked onto PATH (what `npm link` does); the block runs
// in an empty temp directory, inside a private network namespace (unshare -rn, loopback only), so its fixed ports
// (15012, 15000, 8080, …) cannot collide with anything else on the machine. Every process it starts is killed after.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';

const README = new URL('../../README.md', import.meta.url);

/** The first ```sh block after the "Running it outside Kubernetes" heading. */
export function outsideKubernetesBlock(readme: string): string {
  const section = readme.slice(readme.indexOf('## Running it outside Kubernetes'));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```sh block under "Running it outside Kubernetes"');
  return m[1]!;
}

const probe = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
const SKIP = probe.status === 0 ? undefined : `cannot make a private network namespace (unshare -rn): ${(probe.stderr || probe.error?.message || '').trim()}`;
if (SKIP) console.warn(`skipping the README walkthrough: ${SKIP}`);

describe.skipIf(SKIP)('README: Running it outside Kubernetes', () => {
  it('runs as written', async () => {
    const block = outsideKubernetesBlock(readFileSync(README, 'utf8'));
    expect(block).toContain('ztmesh status --wait');
    const work = mkdtempSync(join(tmpdir(), 'ztmesh-readme-'));
    const bin = join(work, '.bin');
    mkdirSync(bin);
    symlinkSync(BIN, join(bin, 'ztmesh'));
    const dir = join(work, 'walkthrough');
    mkdirSync(dir);
    // Then, not part of the README: ten clients reset their connections to the echo app, which must keep serving.
    const resets = 'for (let i = 0; i < 10; i++) await new Promise((r) => { const s = require("net").connect(8080, "127.0.0.1", () => s.resetAndDestroy()); s.on("error", () => {}); s.on("close", r); });'
      + ' await new Promise((r) => setTimeout(r, 200));';
    writeFileSync(join(work, 'walkthrough.sh'), `set -euo pipefail\n${block}\nnode -e '(async () => { ${resets} })()'\necho again | ztmesh connect 127.0.0.1:9001\n`);
    const child = spawn('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec bash "$0"', join(work, 'walkthrough.sh')], {
      cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`, ZTMESH_LOG_FORMAT: '' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => resolve(-1), 60_000);
        child.on('exit', (c) => { clearTimeout(t); resolve(c); });
      });
      expect(code, out).toBe(0);
      if (process.env.SHOW_README_RUN) console.log(out);
      const lines = out.split('\n');
      expect(lines.filter((l) => /^State\s+available$/.test(l)), out).toHaveLength(2);
      expect(lines.filter((l) => /^Identity\s+spiffe:\/\/example\.org\/ns\/default\/sa\/(web|api)$/.test(l)).map((l) => l.split('/').pop()), out).toEqual(['web', 'api']);
      expect(lines, out).toContain('hello');
      expect(lines, out).toContain('again');
      expect(out).not.toMatch(/"level":"(error|fatal)"/);
    } finally {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      rmSync(work, { recursive: true, force: true });
    }
  });
});
