// TLS 1.3 session resumption per upstream: the second connection resumes on both sides, presents the same
// identity, and authorization still applies: a policy change on either side takes effect on the next connection.
// Raw mTLS (`tunnel: off`): one TLS connection per app connection, which is what resumption is for.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, connect, echoApp, metric, portOf, readAll, startMesh, WEB } from '../helpers/datapath.js';
import { compilePolicy } from '../../src/sidecar/authz.js';
import { parseHostPort } from '../../src/common/address.js';
import { parseSpiffePattern } from '../../src/pki/spiffe-id.js';

describe('outbound resumes TLS sessions', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  const reusedOnServer: boolean[] = [];
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app, outbound: { tunnel: 'off' } });
    mesh.server.logs.lines.length = 0;
  });
  afterAll(async () => { await mesh.close(); await app.close(); });

  const roundTrip = async (text: string) => {
    const s = await connect(portOf(mesh.outbound.address));
    const r = readAll(s);
    s.end(text);
    return (await r).data.toString();
  };
  const forwarded = () => mesh.server.logs.lines.filter((l) => l.msg === 'inbound connection forwarded');
  const established = () => mesh.client.logs.lines.filter((l) => l.msg === 'outbound connection established');

  it('does a full handshake first, then resumes; both sides see isSessionReused()', async () => {
    expect(await roundTrip('one')).toBe('one');
    expect(await roundTrip('two')).toBe('two');
    expect(established().map((l) => l.resumed)).toEqual([false, true]);
    expect(forwarded().map((l) => l.resumed)).toEqual([false, true]);
    // The resumed session presents the same peer identity on both sides.
    expect(forwarded().map((l) => l.peerId)).toEqual([WEB, WEB]);
    expect(established().map((l) => l.peerId)).toEqual([API, API]);
    reusedOnServer.push(...forwarded().map((l) => l.resumed as boolean));
  });

  it('applies an inbound policy change to the next (resumed) connection', async () => {
    mesh.inbound.handler.setPolicy(compilePolicy('cluster.local', ['spiffe://cluster.local/ns/default/sa/someone-else'], 'deny'));
    const s = await connect(portOf(mesh.outbound.address));
    const r = readAll(s);
    s.write('three');
    const { data } = await r;
    expect(data.length).toBe(0);
    const line = await mesh.server.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ reason: 'spiffe_id_denied', peerId: WEB });
    expect(await metric(mesh.server.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'spiffe_id_denied' })).toBe(1);
    mesh.inbound.handler.setPolicy(compilePolicy('cluster.local', undefined, 'allow'));
    expect(await roundTrip('four')).toBe('four');
  });

  it('re-checks `expect` on a resumed session: a changed expectation refuses it', async () => {
    const upstream = parseHostPort(mesh.inbound.address, 'upstream');
    const ok = await mesh.client.dialer.dial({ upstream, expect: parseSpiffePattern(API) }, 5_000);
    expect(ok.resumed).toBe(true);
    expect(ok.peerId).toBe(API);
    ok.leg.stream.destroy();
    await expect(mesh.client.dialer.dial({ upstream, expect: parseSpiffePattern(WEB) }, 5_000)).rejects.toMatchObject({ code: 'server_id_mismatch', peerId: API });
  });

  it('a peer-side TLS client sees the same: a plain node client resumes against the inbound listener', async () => {
    const leaf = mesh.web.svid();
    const ctx = tls.createSecureContext({ key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem, minVersion: 'TLSv1.3' });
    let session: Buffer | undefined;
    const results: boolean[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const t = tls.connect({ host: '127.0.0.1', port: portOf(mesh.inbound.address), secureContext: ctx, ...(session ? { session } : {}), checkServerIdentity: () => undefined });
        t.on('session', (s: Buffer) => { session = s; });
        t.once('secureConnect', () => { results.push(t.isSessionReused()); t.end('x'); });
        t.on('data', () => {});
        t.once('close', () => resolve());
        t.once('error', reject);
      });
    }
    expect(results).toEqual([false, true]);
    expect(reusedOnServer).toEqual([false, true]);
  });
});
