// When an upstream refuses our identity (after TLS 1.3's handshake has finished on our side), the calling sidecar
// logs the refusal with the upstream address (server_refused, or peer_alert for a TLS alert), counts it as refused
// rather than accepted, and shows it in /status; a connection the upstream takes still counts as accepted.
import { spawn } from 'node:child_process';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startOutbound } from '../../src/sidecar/listeners.js';
import { OPENSSL_MISSING, PemDir } from '../helpers/openssl.js';
import { API, connect, echoApp, freePort, makeCa, makeLeaf, metric, outboundConfig, portOf, readAll, sidecarShared, startMesh, TestIdentity, TD, WEB } from '../helpers/datapath.js';

const OTHER = `spiffe://${TD}/ns/default/sa/other`;

describe('outbound counts an upstream refusal', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let refusing: Awaited<ReturnType<typeof startMesh>>;
  let admitting: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await echoApp();
    refusing = await startMesh({ app, inbound: { allow: [OTHER] } });
    admitting = await startMesh({ app, inbound: { allow: [WEB] } });
  });
  afterAll(async () => {
    await refusing?.close();
    await admitting?.close();
    await app?.close();
  });

  it('api refuses web: web logs server_refused naming api, counts refused and denied, not accepted', async () => {
    const s = await connect(portOf(refusing.outbound.address));
    s.write('hello');
    const { data } = await readAll(s);
    expect(data.length).toBe(0);
    const line = await refusing.client.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', direction: 'outbound', reason: 'server_refused', upstream: refusing.inbound.address, peerId: API });
    const reg = refusing.client.registry;
    expect(await metric(reg, 'ztmesh_connections_total', { direction: 'outbound', result: 'refused' })).toBe(1);
    expect(await metric(reg, 'ztmesh_connections_total', { direction: 'outbound', result: 'accepted' })).toBe(0);
    expect(await metric(reg, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'server_refused' })).toBe(1);
    expect(refusing.outbound.reporter.counters).toMatchObject({ denied: 1, connectionsActive: 0, lastRefusal: { reason: 'server_refused', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), upstream: refusing.inbound.address, peerId: API } });
    // The api side logged its own reason.
    expect(await refusing.server.logs.waitFor((l) => l.msg === 'connection refused')).toMatchObject({ reason: 'spiffe_id_denied', peerId: WEB });
    // An app that sends its request and half-closes at once (echo hello | nc) sees the same verdict.
    const again = await connect(portOf(refusing.outbound.address));
    again.end('hello');
    await readAll(again);
    await refusing.client.logs.waitFor(() => refusing.outbound.reporter.counters.denied === 2);
    expect(await metric(reg, 'ztmesh_connections_total', { direction: 'outbound', result: 'accepted' })).toBe(0);
  });

  it('api admits web: counted as accepted, nothing denied', async () => {
    const s = await connect(portOf(admitting.outbound.address));
    s.end('hello');
    const { data } = await readAll(s);
    expect(data.toString()).toBe('hello');
    const reg = admitting.client.registry;
    expect(await metric(reg, 'ztmesh_connections_total', { direction: 'outbound', result: 'accepted' })).toBe(1);
    expect(await metric(reg, 'ztmesh_connections_total', { direction: 'outbound', result: 'refused' })).toBe(0);
    expect(admitting.outbound.reporter.counters).toMatchObject({ denied: 0, lastRefusal: null });
  });

  it('an upstream that closes right after the handshake (node rejecting our certificate): server_refused', async () => {
    const ca = makeCa(TD);
    const leaf = makeLeaf(ca, API);
    // Trusts another root only: node ends the connection once it has checked web's certificate.
    const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, ca: makeCa(TD).certPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const upstream = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const { line, shared, outbound } = await refusedThrough(ca, upstream);
      expect(line).toMatchObject({ direction: 'outbound', reason: 'server_refused', upstream });
      expect(await metric(shared.registry, 'ztmesh_connections_total', { direction: 'outbound', result: 'accepted' })).toBe(0);
      expect(outbound.reporter.counters.denied).toBe(1);
    } finally {
      server.close();
    }
  });

  it.skipIf(OPENSSL_MISSING)('openssl s_server answering our certificate with a TLS alert: peer_alert, with the upstream address', async () => {
    const ca = makeCa(TD);
    const pems = new PemDir();
    const port = await freePort();
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-Verify', '1', '-verify_return_error',
      '-CAfile', pems.ca(makeCa(TD), 'foreign.pem'), '-cert', pems.leaf(makeLeaf(ca, API), 'api').cert, '-key', `${pems.dir}/api.key`], { stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ACCEPT')) resolve(); });
      server.once('exit', (code) => reject(new Error(`openssl s_server exited (${code})`)));
    });
    const upstream = `127.0.0.1:${port}`;
    try {
      const { line, shared, outbound } = await refusedThrough(ca, upstream);
      expect(line).toMatchObject({ direction: 'outbound', reason: 'peer_alert', upstream });
      expect(String(line.detail)).toMatch(/ALERT/);
      expect(await metric(shared.registry, 'ztmesh_connections_total', { direction: 'outbound', result: 'accepted' })).toBe(0);
      expect(outbound.reporter.counters.lastRefusal).toMatchObject({ reason: 'peer_alert', upstream });
    } finally {
      server.kill();
      pems.remove();
    }
  });
});

/** web's outbound listener to `upstream`; one connection through it; the refusal line it logged. Closed after the test. */
async function refusedThrough(ca: ReturnType<typeof makeCa>, upstream: string) {
  const shared = sidecarShared(new TestIdentity(ca, WEB));
  const outbound = await startOutbound(outboundConfig({ upstream, expect: API }), shared);
  onTestFinished(async () => {
    await outbound.stopAccepting();
    outbound.handler.destroyAll();
    shared.contexts.close();
  });
  const s = await connect(portOf(outbound.address));
  s.write('hello');
  await readAll(s);
  return { line: await shared.logs.waitFor((l) => l.msg === 'connection refused'), shared, outbound };
}
