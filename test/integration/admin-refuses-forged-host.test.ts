// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends `Host: evil.example:PORT`.
// Every path of every admin and health server (sidecar admin and health, CA admin, webhook health) answers it 403,
// and a POST /rotate so addressed rotates nothing; the same paths answer with a loopback Host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../helpers/admin-http.js';
import { startEveryAdmin, type EveryAdmin } from '../helpers/every-admin.js';

let all: EveryAdmin;
beforeAll(async () => { all = await startEveryAdmin(); });
afterAll(async () => { await all?.stop(); });

describe('a forged Host (DNS rebinding)', () => {
  it('gets 403 host_not_allowed on every path of every admin, and POST /rotate rotates nothing', async () => {
    const before = (await all.sc.status()).identity;
    for (const [name, base, routes] of all.servers()) {
      const port = new URL(base).port;
      for (const [method, path] of routes) {
        for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`]) {
          const r = await adminRequest(base, { method, path, headers: { Host: host } });
          expect(r.status, `${name} ${method} ${path} Host ${host}`).toBe(403);
          expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'host_not_allowed' } });
        }
      }
    }
    const after = (await all.sc.status()).identity;
    expect(after.rotations).toBe(before.rotations);
    expect(after.serial).toBe(before.serial);
    for (const proc of [all.sc.proc, all.ca.process, all.webhook.proc]) {
      const line = await proc.waitFor(/"code":"host_not_allowed".*"msg":"admin request refused"/);
      expect(JSON.parse(line)).toMatchObject({ header: 'host', value: expect.stringContaining('evil.example'), peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    }
  });

  it('the same paths answer (not 403) with a loopback Host or localhost', async () => {
    for (const [name, base, routes] of all.servers()) {
      const port = new URL(base).port;
      for (const [method, path] of routes) {
        if (method === 'POST') continue; // rotating is covered by admin-refuses-cross-site-rotate
        for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
          const r = await adminRequest(base, { method, path, headers: { Host: host } });
          expect([200, 404, 503], `${name} ${method} ${path} Host ${host}: ${r.status}`).toContain(r.status);
        }
      }
    }
  });
});
