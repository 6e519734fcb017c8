// A real sidecar process started with the appProbes that `ztmesh inject` wrote answers each /app-health/... path on its
// health port by probing a real local app: 200 while the app passes its HTTP (with the custom header), TCP and gRPC
// probes, 503 with a short reason once the app returns 500, stops listening or stops serving. Unlisted paths are 404.
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { makeCa } from '../helpers/pki.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const listen = (server: net.Server) => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
const close = (server: net.Server) => new Promise<void>((r) => { server.close(() => r()); (server as http.Server).closeAllConnections?.(); });

let httpStatus = 200;
const seenHeaders: string[] = [];
const httpApp = http.createServer((req, res) => {
  seenHeaders.push(String(req.headers['x-probe']));
  res.writeHead(req.url === '/healthz' && req.headers['x-probe'] === 'live' ? httpStatus : 404).end('app says hi');
});
const tcpApp = net.createServer((s) => s.end());
const grpcApp = new grpc.Server();
const health = new HealthImplementation({ 'shop.v1.Shop': 'SERVING' });
health.addToServer(grpcApp);
let ports: { http: number; tcp: number; grpc: number };
let sc: TestSidecar;

/** GETs `path` on the health port until its status is `want` (the sidecar reuses a result for up to 500 ms). */
async function until(path: string, want: number): Promise<{ status: number; text: string }> {
  let last = { status: 0, text: '' };
  for (const stop = Date.now() + 10_000; Date.now() < stop;) {
    last = await sc.get(path, sc.health);
    if (last.status === want) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path}: wanted ${want}, last ${last.status} ${last.text}\n${sc.proc.lines.slice(-10).join('\n')}`);
}

beforeAll(async () => {
  ports = {
    http: await listen(httpApp),
    tcp: await listen(tcpApp),
    grpc: await new Promise<number>((resolve, reject) => grpcApp.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))),
  };
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: shop }
spec:
  selector: { matchLabels: { app: shop } }
  template:
    metadata: { labels: { app: shop } }
    spec:
      containers:
      - name: web
        image: shop:1
        ports: [{ name: http, containerPort: ${ports.http} }, { containerPort: ${ports.tcp} }, { containerPort: ${ports.grpc} }]
        livenessProbe: { httpGet: { path: /healthz, port: http, httpHeaders: [{ name: X-Probe, value: live }] }, timeoutSeconds: 2 }
        readinessProbe: { tcpSocket: { port: ${ports.tcp} } }
        startupProbe: { grpc: { port: ${ports.grpc}, service: shop.v1.Shop } }
`;
  const injected = await runCli(['inject', '-f', '-'], { input: deployment });
  expect(injected.code, injected.stderr).toBe(0);
  const sidecar = (parse(injected.stdout) as Obj).spec.template.spec.initContainers.find((c: Obj) => c.name === 'ztmesh-sidecar');
  const appProbes = sidecar.env.find((e: Obj) => e.name === 'ZTMESH_APP_PROBES').value as string;
  // No CA: the health port serves from the start, app probes do not wait for a certificate.
  sc = await startSidecar({ caAddress: '127.0.0.1:1', bundlePem: makeCa('example.org').certPem, token: 'unused', env: { ZTMESH_APP_PROBES: appProbes } });
});
afterAll(async () => {
  await sc?.stop();
  grpcApp.forceShutdown();
  await Promise.all([close(httpApp), close(tcpApp)]);
});

describe('sidecar app probes', () => {
  it('answers 200 on each path while the app passes, sending the probe\'s header', async () => {
    for (const path of ['/app-health/web/livez', '/app-health/web/readyz', '/app-health/web/startupz']) {
      const r = await until(path, 200);
      expect(r.text).toMatch(/^ok: /);
    }
    expect(seenHeaders).toContain('live');
  });

  it('only the configured paths exist', async () => {
    expect((await sc.get('/app-health/web/other', sc.health)).status).toBe(404);
    expect((await sc.get('/app-health/worker/livez', sc.health)).status).toBe(404);
  });

  it('answers 503 with the reason once the HTTP app returns 500', async () => {
    httpStatus = 500;
    expect((await until('/app-health/web/livez', 503)).text).toBe('app probe failed: HTTP 500\n');
    httpStatus = 200;
    await until('/app-health/web/livez', 200);
  });

  it('answers 503 once the gRPC app reports NOT_SERVING', async () => {
    health.setStatus('shop.v1.Shop', 'NOT_SERVING');
    expect((await until('/app-health/web/startupz', 503)).text).toBe('app probe failed: gRPC NOT_SERVING\n');
  });

  it('answers 503 once the apps stop', async () => {
    await close(tcpApp);
    expect((await until('/app-health/web/readyz', 503)).text).toMatch(/^app probe failed: TCP 127\.0\.0\.1:\d+: ECONNREFUSED\n$/);
    await close(httpApp);
    expect((await until('/app-health/web/livez', 503)).text).toMatch(/ECONNREFUSED/);
    grpcApp.forceShutdown();
    expect((await until('/app-health/web/startupz', 503)).text).toMatch(/^app probe failed: gRPC health: UNAVAILABLE/);
    expect(sc.proc.json().some((l) => l.code === 'app_probe_failed')).toBe(true);
  });
});
