// Platforms put grpc_proxy/https_proxy/http_proxy into every container, and NO_PROXY=localhost does not cover
// 127.0.0.1. A real sidecar process started with all of them pointing at a dead proxy still gets its SVID from the CA,
// a JWT-SVID for its Workload API (SignJwtSvid) and still answers its app's gRPC probe, and the proxy sees no
// connection: mesh-internal channels are direct. When
// the CA is down, the error names the CA's address and the real reason, never "undefined".
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startWorkloadApiSidecar, unary } from '../helpers/workload-api.js';

let ca: TestCaServer;
let proxyConnections = 0;
const proxy = net.createServer((s) => { proxyConnections++; s.destroy(); });
const grpcApp = new grpc.Server();
new HealthImplementation({ 'shop.v1.Shop': 'SERVING' }).addToServer(grpcApp);
const stops: (() => Promise<unknown>)[] = [];
let proxyEnv: NodeJS.ProcessEnv;
let appProbes: string;

beforeAll(async () => {
  ca = await startCa();
  const proxyPort = await new Promise<number>((r) => proxy.listen(0, '127.0.0.1', () => r((proxy.address() as net.AddressInfo).port)));
  const dead = `http://127.0.0.1:${proxyPort}`;
  proxyEnv = { grpc_proxy: dead, https_proxy: dead, HTTPS_PROXY: dead, http_proxy: dead, HTTP_PROXY: dead, NO_PROXY: 'localhost', no_proxy: 'localhost' };
  const grpcPort = await new Promise<number>((resolve, reject) => grpcApp.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  appProbes = JSON.stringify({ '/app-health/web/readyz': { grpc: { port: grpcPort, service: 'shop.v1.Shop' }, timeoutSeconds: 2 } });
});
afterAll(async () => {
  for (const stop of stops) await stop();
  grpcApp.forceShutdown();
  await new Promise<void>((r) => proxy.close(() => r()));
  await ca?.stop();
});

describe('with proxy variables pointing at a dead proxy', () => {
  it('the sidecar gets its SVID and a JWT-SVID from the CA and answers the app\'s gRPC probe, and the proxy sees nothing', async () => {
    const wl = await startWorkloadApiSidecar({ ca, env: { ...proxyEnv, ZTMESH_APP_PROBES: appProbes } });
    stops.push(() => wl.stop());
    const sc = wl.sidecar;
    const s = await sc.waitForStatus((x) => x.identity.state === 'available' && x.ca.bundleStream.connected);
    expect(s.ca.reachable).toBe(true);
    const probe = await sc.get('/app-health/web/readyz', sc.health);
    expect(probe, probe.text).toMatchObject({ status: 200, text: 'ok: gRPC SERVING\n' });
    const jwt = await unary<{ svids: { svid: string }[] }>(wl.client(), 'FetchJWTSVID', { audience: ['db'] });
    expect(jwt.svids).toHaveLength(1);
    expect(proxyConnections).toBe(0);
  });

  it('a CA that is down is named with the real reason, not "undefined"', async () => {
    const sc = await startSidecar({ ca, caAddress: '127.0.0.1:1', env: proxyEnv });
    stops.push(() => sc.stop());
    const s = await sc.waitForStatus((x) => x.identity.consecutiveFailures >= 1);
    const line = JSON.parse(await sc.proc.waitFor(/"event":"rotation_failed"/)) as { err: string };
    // The mesh stream waits for an SVID, so the reason is the failed signing call's, in the log and in /status.
    for (const text of [line.err, JSON.stringify(s.identity.lastError)]) {
      expect(text).toContain('127.0.0.1:1');
      expect(text).toContain('ECONNREFUSED');
      expect(text).not.toContain('undefined');
    }
    expect(proxyConnections).toBe(0);
  });
});
