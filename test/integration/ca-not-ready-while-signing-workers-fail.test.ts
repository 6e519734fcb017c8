// The CA is ready only while it can sign: a self-test signature at start and for every rebuilt signing worker.
// Killing the signing workers in a loop turns /readyz 503 within 2 s; the workers are rebuilt with backoff (no
// crash storm) and the log gets a summary, not a line per crash; once they survive again, the CA is ready again.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCaServer, type RunningCa } from '../../src/ca/build.js';
import { parseServeConfig } from '../../src/ca/config.js';
import { initCaDir } from '../../src/ca/state-dir.js';
import { LogCapture } from '../helpers/datapath.js';

const WORKER = fileURLToPath(new URL('../fixtures/ca/killable-sign-worker.mjs', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../dist/ca/signing/sign-worker.js', import.meta.url)));
if (!BUILT) console.warn('skipping: dist/ca/signing/sign-worker.js is not built (npm run build; npm test does it)');

async function readyz(ca: RunningCa): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${ca.adminPort}/readyz`);
  return { status: res.status, body: await res.text() };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await fn())) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

describe.skipIf(!BUILT)('CA readiness while its signing workers keep dying', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ztmesh-ca-workers-'));
  const killSwitch = join(tmp, 'kill');
  const logs = new LogCapture('info');
  let ca: RunningCa;
  beforeAll(async () => {
    process.env.ZTMESH_TEST_KILL_SWITCH = killSwitch;
    await initCaDir(join(tmp, 'ca'), 'example.org', Date.now());
    const config = parseServeConfig({ dir: join(tmp, 'ca'), listen: '127.0.0.1:0', admin: '127.0.0.1:0', signWorkers: '2', drain: '1s' });
    ca = await buildCaServer(config, { log: logs.log, workerFile: WORKER });
  });
  afterAll(async () => {
    await ca?.close();
    delete process.env.ZTMESH_TEST_KILL_SWITCH;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is ready once a self-test signature passed', async () => {
    await until('ready at start', async () => (await readyz(ca)).status === 200, 10_000);
    expect(logs.lines.some((l) => l.msg === 'signer ready: self-test signature passed')).toBe(true);
  });

  it('turns 503 within 2 s while the workers are killed in a loop, with backoff and a summary log', async () => {
    // Lines from the crash loop only: a loaded machine may have cost a worker its self-test before (logged then).
    const mark = logs.lines.length;
    writeFileSync(killSwitch, '');
    const tookMs = await until('503', async () => (await readyz(ca)).status === 503, 2_000);
    expect(tookMs).toBeLessThan(2_000);
    const r = await readyz(ca);
    expect(JSON.parse(r.body)).toMatchObject({ pending: ['signer'], signer: expect.stringContaining('no signing worker is running') });
    // Three seconds of a crash loop: a handful of rebuilds per worker (backoff), not hundreds; and few log lines.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const metrics = await (await fetch(`http://127.0.0.1:${ca.adminPort}/metrics`)).text();
    const failures = Number(/^ztmesh_ca_signing_worker_failures_total (\d+)/m.exec(metrics)?.[1]);
    expect(failures).toBeGreaterThanOrEqual(4);
    expect(failures).toBeLessThan(30);
    const loopLines = logs.lines.slice(mark);
    const workerLines = loopLines.filter((l) => /signing worker/.test(String(l.msg)));
    expect(workerLines.length).toBeLessThanOrEqual(2);
    expect(loopLines.filter((l) => l.msg === 'signer not ready: no signing worker can sign')).toHaveLength(1);
    expect((await readyz(ca)).status).toBe(503);
  });

  it('is ready again once rebuilt workers survive and pass their self-test', async () => {
    rmSync(killSwitch);
    await until('ready again', async () => (await readyz(ca)).status === 200, 12_000);
  });
});
