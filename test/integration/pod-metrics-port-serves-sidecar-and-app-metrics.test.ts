// Prometheus scrapes a pod through its sidecar (docs/design.md "Metrics in a pod"): a real sidecar process with
// `ZTMESH_METRICS_LISTEN` and `ZTMESH_METRICS_APP`, as injection sets them, answers plain-HTTP `GET /metrics` with
// the pod IP as Host: its own metrics and a real app's (a prom-client app, whose Node.js default metrics have the
// same names as the sidecar's), in one exposition that promtool parses. An app that is down costs only its part.
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../helpers/admin-http.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

const POD_IP_HOST = '10.244.1.7:15020';

/** Runs `promtool check metrics` on `text`: exit 0 (clean) or 3 (lint remarks only) means it parsed. */
function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
}

let ca: TestCaServer;
let sc: TestSidecar;
let app: http.Server;
const appRegistry = new Registry();

beforeAll(async () => {
  collectDefaultMetrics({ register: appRegistry });
  new Counter({ name: 'shop_orders_total', help: 'Orders placed.', labelNames: ['status'], registers: [appRegistry] }).inc({ status: 'paid' }, 3);
  app = http.createServer((req, res) => {
    if (req.url !== '/stats') { res.statusCode = 404; res.end(); return; }
    void appRegistry.metrics().then((body) => { res.setHeader('content-type', appRegistry.contentType); res.end(body); });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  ca = await startCa();
  sc = await startSidecar({
    ca, env: { ZTMESH_METRICS_LISTEN: '127.0.0.1:0', ZTMESH_METRICS_APP: JSON.stringify({ port: (app.address() as AddressInfo).port, path: '/stats' }) },
  });
  await sc.waitForStatus((s) => s.identity.state === 'available');
});
afterAll(async () => {
  await sc?.stop();
  await ca?.stop();
  if (app.listening) await new Promise<void>((r) => { app.closeAllConnections(); app.close(() => r()); });
  appRegistry.clear();
});

describe('the pod metrics port', () => {
  it('answers GET /metrics over plain HTTP with the sidecar\'s metrics and the app\'s, merged into one valid exposition', async () => {
    expect(sc.metrics).toBeDefined();
    const r = await adminRequest(sc.metrics!, { path: '/metrics', headers: { Host: POD_IP_HOST } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.body).toMatch(/^ztmesh_identity_state\{state="available"\} 1$/m);
    expect(r.body).toMatch(/^ztmesh_app_metrics_up 1$/m);
    expect(r.body).toMatch(/^shop_orders_total\{status="paid"\} 3$/m);
    // Both processes report their memory under the same name: the app's is renamed, the sidecar's keeps its name.
    expect(r.body).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(r.body).toMatch(/^app_process_resident_memory_bytes \d+$/m);
    const types = [...r.body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    expect(types.length).toBeGreaterThan(20);
    expect(new Set(types).size).toBe(types.length);
    const check = await promtool(r.body);
    expect(check.output).not.toMatch(/error|parsing/i);
    expect([0, 3]).toContain(check.code);
  });

  it('serves nothing but /metrics, and refuses a Host that is a name (DNS rebinding)', async () => {
    expect((await adminRequest(sc.metrics!, { path: '/status', headers: { Host: POD_IP_HOST } })).status).toBe(404);
    expect((await adminRequest(sc.metrics!, { path: '/metrics', headers: { Host: 'attacker.example:15020' } })).status).toBe(403);
    expect((await adminRequest(sc.metrics!, { method: 'POST', path: '/metrics', headers: { Host: POD_IP_HOST } })).status).toBe(405);
  });

  it('an app that is down gives the sidecar\'s metrics and ztmesh_app_metrics_up 0, never a 5xx', async () => {
    await new Promise<void>((r) => { app.closeAllConnections(); app.close(() => r()); });
    // Each answer within a second of a scrape reuses it; ask until the sidecar has scraped the stopped app.
    let r = await adminRequest(sc.metrics!, { path: '/metrics', headers: { Host: POD_IP_HOST } });
    for (let i = 0; i < 50 && !/^ztmesh_app_metrics_up 0$/m.test(r.body); i++) {
      expect(r.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = await adminRequest(sc.metrics!, { path: '/metrics', headers: { Host: POD_IP_HOST } });
    }
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^ztmesh_app_metrics_up 0$/m);
    expect(r.body).toMatch(/^ztmesh_app_metrics_scrape_failures_total\{code="connection_failed"\} [1-9]/m);
    expect(r.body).toMatch(/^ztmesh_identity_state\{state="available"\} 1$/m);
    expect(r.body).not.toContain('shop_orders_total');
    expect((await promtool(r.body)).output).not.toMatch(/error|parsing/i);
    await sc.proc.waitFor(/"code":"connection_failed".*app metrics not scraped/);
  });
});
