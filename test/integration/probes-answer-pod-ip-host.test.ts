// Kubelet probes keep working: the kubelet sends the pod IP as Host (`Host: 10.1.2.3:15021`). The sidecar's health
// port answers it on every route, and so do /healthz and /readyz on the sidecar and CA admins and the webhook's
// health port; an admin's other routes still refuse that Host (403) unless it is the address the admin listens on.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { CliProcess } from '../helpers/cli.js';
import { makeCa } from '../helpers/pki.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { adminRequest } from '../helpers/admin-http.js';

let ca: TestCaServer;
let sc: TestSidecar;
let webhook: CliProcess;
let webhookHealth: string;

beforeAll(async () => {
  ca = await startCa();
  sc = await startSidecar({ ca });
  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-webhook-probe-'));
  writeFileSync(join(dir, 'token'), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
  writeFileSync(join(dir, 'roots.pem'), makeCa('cluster.local').certPem);
  webhook = new CliProcess(['webhook', '--listen', '127.0.0.1:0', '--health', '127.0.0.1:0', '--ca-address', '127.0.0.1:1',
    '--token-file', join(dir, 'token'), '--bundle', join(dir, 'roots.pem'), '--dns', 'ztmesh-webhook.ztmesh-system.svc']);
  const line = await webhook.waitFor(/"msg":"webhook waiting for its serving certificate"/);
  webhookHealth = `http://${(JSON.parse(line) as { health: string }).health}`;
  await sc.waitForStatus((s) => s.identity.state === 'available');
});
afterAll(async () => {
  await webhook?.stop();
  await sc?.stop();
  await ca?.stop();
});

const get = (base: string, path: string, host: string) => adminRequest(base, { path, headers: { Host: host } });

describe('probes with the pod IP as Host', () => {
  it('the sidecar health port answers Host 10.1.2.3:15021 with 200 on /healthz and /readyz', async () => {
    expect((await get(sc.health, '/healthz', '10.1.2.3:15021')).status).toBe(200);
    const ready = await get(sc.health, '/readyz', '10.1.2.3:15021');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true, pending: [] });
    expect((await get(sc.health, '/readyz', '[fd00::5]:15021')).status).toBe(200);
  });

  it('admins answer probes with the pod IP, and refuse it on their other routes', async () => {
    const caAdmin = `http://${ca.adminAddress}`;
    for (const [base, others] of [[sc.admin, ['/status', '/metrics', '/certs']], [caAdmin, ['/metrics']]] as const) {
      expect((await get(base, '/healthz', '10.1.2.3:15010')).status).toBe(200);
      expect((await get(base, '/readyz', '10.1.2.3:15010')).status).toBe(200);
      for (const path of others) expect((await get(base, path, '10.1.2.3:15010')).status, `${base}${path}`).toBe(403);
    }
    const before = (await sc.status()).identity.rotations;
    expect((await adminRequest(sc.admin, { method: 'POST', path: '/rotate', headers: { Host: '10.1.2.3:15000' } })).status).toBe(403);
    expect((await sc.status()).identity.rotations).toBe(before);
  });

  it('the webhook health port (read-only) answers the pod IP on every route', async () => {
    expect((await get(webhookHealth, '/healthz', '10.1.2.3:15021')).status).toBe(200);
    expect((await get(webhookHealth, '/readyz', '10.1.2.3:15021')).status).toBe(503); // no serving certificate yet
    expect((await get(webhookHealth, '/metrics', '10.1.2.3:15021')).status).toBe(200);
  });
});
