// Fail closed: without a valid SVID, inbound refuses handshakes and outbound refuses app connections (no_svid),
// whether the identity part reports `expired` or the clock simply passes notAfter.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, echoApp, inboundConfig, makeCa, makeLeaf, metric, outboundConfig, portOf, readAll, sidecarShared, TestIdentity, WEB } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startInbound, startOutbound } from '../../src/sidecar/listeners.js';

describe('data path fails closed', () => {
  const ca = makeCa();
  const clock = new FakeClock(Date.now());
  const api = new TestIdentity(ca, API);
  const web = new TestIdentity(ca, WEB);
  let app: Awaited<ReturnType<typeof echoApp>>;
  let server: ReturnType<typeof sidecarShared>;
  let client: ReturnType<typeof sidecarShared>;
  let inbound: Awaited<ReturnType<typeof startInbound>>;
  let outbound: Awaited<ReturnType<typeof startOutbound>>;
  beforeAll(async () => {
    app = await echoApp();
    server = sidecarShared(api, { clock });
    client = sidecarShared(web, { clock });
    inbound = await startInbound(inboundConfig({ forward: `127.0.0.1:${app.port}` }), server);
    outbound = await startOutbound(outboundConfig({ upstream: inbound.address }), client);
  });
  afterAll(async () => {
    for (const l of [inbound, outbound]) { await l.stopAccepting(); l.handler.destroyAll(); }
    inbound.handler.dispose();
    await app.close();
  });

  const roundTrip = () => {
    // A refused app connection may be reset before 'connect' is even reported: read whatever happens.
    const s = net.connect({ host: '127.0.0.1', port: portOf(outbound.address), allowHalfOpen: true });
    const r = readAll(s);
    s.end('ping');
    return r;
  };
  const directTls = () => new Promise<Error | undefined>((resolve) => {
    const leaf = makeLeaf(ca, WEB);
    const t = tls.connect({ host: '127.0.0.1', port: portOf(inbound.address), key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    t.once('secureConnect', () => { t.destroy(); resolve(undefined); });
    t.once('error', (e) => resolve(e));
  });

  it('works while both SVIDs are valid', async () => {
    expect((await roundTrip()).data.toString()).toBe('ping');
  });

  it('outbound refuses app connections once its SVID is expired', async () => {
    web.expire();
    const { data } = await roundTrip();
    expect(data.length).toBe(0);
    const line = await client.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ direction: 'outbound', reason: 'no_svid' });
    expect(await metric(client.registry, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'no_svid' })).toBe(1);
    web.rotate();
    expect((await roundTrip()).data.toString()).toBe('ping');
  });

  it('inbound refuses handshakes once its SVID is expired', async () => {
    api.expire();
    expect(await directTls()).toBeInstanceOf(Error);
    const line = await server.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ direction: 'inbound', reason: 'no_svid' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await metric(server.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'no_svid' })).toBe(1);
    api.rotate();
    expect(await directTls()).toBeUndefined();
  });

  it('both sides refuse when the clock passes notAfter even though nobody reported expiry', async () => {
    clock.set(Math.max(api.svid().notAfterMs, web.svid().notAfterMs) + 1_000);
    expect((await roundTrip()).data.length).toBe(0);
    expect(await directTls()).toBeInstanceOf(Error);
    expect(await metric(client.registry, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'no_svid' })).toBe(2);
    expect(await metric(server.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'no_svid' })).toBe(2);
  });
});
