// A sidecar whose CA never answers holds no SVID: it reports `initializing` with the last error and is not ready
// (admin and kubelet health port alike), while /healthz stays 200.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa } from '../helpers/ca.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

/** A port nothing listens on: bind port 0, note it, close. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('sidecar without a CA', () => {
  let sc: TestSidecar;
  let deadAddress: string;
  beforeAll(async () => {
    const dir = await initCa();
    deadAddress = `127.0.0.1:${await deadPort()}`;
    sc = await startSidecar({ caAddress: deadAddress, bundlePem: readFileSync(join(dir, 'bundle.pem'), 'utf8'), token: 'unused-token' });
  });
  afterAll(async () => {
    await sc?.stop();
  });

  it('stays initializing, not ready, with the last error', async () => {
    const s = await sc.waitForStatus((x) => x.identity.consecutiveFailures >= 2);
    expect(s.identity.state).toBe('initializing');
    expect(s.identity.spiffeId).toBeNull();
    expect(s.identity.serial).toBeNull();
    expect(s.identity.lastError?.code).toBe('unavailable');
    expect(s.identity.lastError?.message).toContain(deadAddress);
    expect(s.identity.refreshAt).not.toBeNull();
    expect(s.ca).toMatchObject({ address: deadAddress, reachable: false, lastContact: null });
    expect(s.trustBundle).toMatchObject({ trustDomain: 'example.org', sequence: 0, source: 'file' });
    expect(s.outageBudgetSeconds).toBeNull();
    for (const base of [sc.admin, sc.health]) {
      const r = await sc.readyz(base);
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ ready: false, pending: ['identity (initializing)'] });
      expect((await sc.get('/healthz', base)).status).toBe(200);
    }
    // The health port serves nothing else.
    expect((await sc.get('/status', sc.health)).status).toBe(404);
    expect((await sc.get('/certs', sc.health)).status).toBe(404);
    // The sidecar's JSON log is written asynchronously: poll for the line.
    await expect.poll(() => sc.proc.json().find((l) => l.event === 'rotation_failed')).toMatchObject({ code: 'unavailable', ca: deadAddress, state: 'initializing' });
  });
});
