// Kubelet probes keep working: the kubelet sends the pod IP as Host (`Host: 10.1.2.3:15021`). The sidecar's health
// port answers it on every route, and so do /healthz and /readyz on the sidecar and CA admins and the webhook's
// health port; an admin's other routes still refuse that Host (403) unless it is the address the admin listens on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../helpers/admin-http.js';
import { startEveryAdmin, type EveryAdmin } from '../helpers/every-admin.js';

let all: EveryAdmin;
beforeAll(async () => { all = await startEveryAdmin(); });
afterAll(async () => { await all?.stop(); });

const get = (base: string, path: string, host: string) => adminRequest(base, { path, headers: { Host: host } });

describe('probes with the pod IP as Host', () => {
  it('the sidecar health port answers Host 10.1.2.3:15021 with 200 on /healthz and /readyz', async () => {
    expect((await get(all.sc.health, '/healthz', '10.1.2.3:15021')).status).toBe(200);
    const ready = await get(all.sc.health, '/readyz', '10.1.2.3:15021');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true, pending: [] });
    expect((await get(all.sc.health, '/readyz', '[fd00::5]:15021')).status).toBe(200);
  });

  it('admins answer probes with the pod IP, and refuse it on their other routes', async () => {
    const caAdmin = `http://${all.ca.adminAddress}`;
    for (const [base, others] of [[all.sc.admin, ['/status', '/metrics', '/certs']], [caAdmin, ['/metrics']]] as const) {
      expect((await get(base, '/healthz', '10.1.2.3:15010')).status).toBe(200);
      expect((await get(base, '/readyz', '10.1.2.3:15010')).status).toBe(200);
      for (const path of others) expect((await get(base, path, '10.1.2.3:15010')).status, `${base}${path}`).toBe(403);
    }
    const before = (await all.sc.status()).identity.rotations;
    expect((await adminRequest(all.sc.admin, { method: 'POST', path: '/rotate', headers: { Host: '10.1.2.3:15000' } })).status).toBe(403);
    expect((await all.sc.status()).identity.rotations).toBe(before);
  });

  it('the webhook health port (read-only) answers the pod IP on every route', async () => {
    expect((await get(all.webhook.health, '/healthz', '10.1.2.3:15021')).status).toBe(200);
    expect((await get(all.webhook.health, '/readyz', '10.1.2.3:15021')).status).toBe(503); // no serving certificate yet
    expect((await get(all.webhook.health, '/metrics', '10.1.2.3:15021')).status).toBe(200);
  });
});
