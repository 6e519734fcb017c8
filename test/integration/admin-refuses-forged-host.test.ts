// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends `Host: evil.example:PORT`.
// Every path of every admin and health server (sidecar admin and health, CA admin, webhook health) answers it 403,
// and a POST /rotate so addressed rotates nothing; the same paths answer with a loopback Host.
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
  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-webhook-host-'));
  writeFileSync(join(dir, 'token'), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
  writeFileSync(join(dir, 'roots.pem'), makeCa('cluster.local').certPem);
  // The CA address is unreachable on purpose: the health server is up before the serving certificate.
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

const servers = (): [string, string, [string, string][]][] => [
  ['sidecar admin', sc.admin, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/status'], ['GET', '/metrics'], ['GET', '/certs'], ['POST', '/rotate'], ['GET', '/nope']]],
  ['sidecar health', sc.health, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/status']]],
  ['CA admin', `http://${ca.adminAddress}`, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics']]],
  ['webhook health', webhookHealth, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics']]],
];

describe('a forged Host (DNS rebinding)', () => {
  it('gets 403 host_not_allowed on every path of every admin, and POST /rotate rotates nothing', async () => {
    const before = (await sc.status()).identity;
    for (const [name, base, routes] of servers()) {
      const port = new URL(base).port;
      for (const [method, path] of routes) {
        for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`]) {
          const r = await adminRequest(base, { method, path, headers: { Host: host } });
          expect(r.status, `${name} ${method} ${path} Host ${host}`).toBe(403);
          expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'host_not_allowed' } });
        }
      }
    }
    const after = (await sc.status()).identity;
    expect(after.rotations).toBe(before.rotations);
    expect(after.serial).toBe(before.serial);
    for (const proc of [sc.proc, ca.process, webhook]) {
      const line = await proc.waitFor(/"code":"host_not_allowed".*"msg":"admin request refused"/);
      expect(JSON.parse(line)).toMatchObject({ header: 'host', value: expect.stringContaining('evil.example'), peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    }
  });

  it('the same paths answer (not 403) with a loopback Host or localhost', async () => {
    for (const [name, base, routes] of servers()) {
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
