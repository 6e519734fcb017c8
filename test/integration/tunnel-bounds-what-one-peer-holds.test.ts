// What one tunnel peer can make an inbound hold is bounded: only an authenticated peer gets an HTTP/2 session at all,
// streams per connection follow SETTINGS_MAX_CONCURRENT_STREAMS (the pool packs to it and opens another connection),
// a request with too many headers is reset, a peer that keeps asking for refused streams loses its connection, and
// a stream without traffic ends at the listener's idleTimeout. Honest peers keep being served throughout.
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, echoApp, portOf, readAll, startMesh, WEB } from '../helpers/datapath.js';

describe('tunnel bounds per peer', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  let port: number;
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app, inbound: { allow: [WEB], idleTimeout: '300ms' }, tunnelLimits: { maxStreamsPerConnection: 4 } });
    port = portOf(mesh.inbound.address);
  });
  afterAll(async () => {
    await mesh?.close();
    await app?.close();
  });

  /** A tunnel client of our own, with web's certificate unless told otherwise. */
  const session = (withCert = true) => {
    const leaf = mesh.web.svid();
    const s = http2.connect(`https://127.0.0.1:${port}`, {
      ...(withCert ? { key: leaf.keyPem, cert: leaf.chainPem } : {}), ca: mesh.ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined,
    });
    s.on('error', () => {});
    return s;
  };
  const closed = (req: http2.ClientHttp2Stream) => new Promise<number | undefined>((r) => { req.on('error', () => {}); req.on('close', () => r(req.rstCode)); });

  it('gives no session to a peer without a certificate', async () => {
    const s = session(false);
    const outcome = await new Promise<string>((r) => { s.once('connect', () => r('connected')); s.once('close', () => r('closed')); });
    // TLS 1.3: the client's handshake may finish before the server refuses; no stream is ever answered.
    if (outcome === 'connected') {
      const req = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` });
      const status = await new Promise<unknown>((r) => { req.on('response', (h) => r(h[':status'])); req.on('error', () => r('reset')); req.on('close', () => r('closed')); });
      expect(status).not.toBe(200);
    }
    s.destroy();
    expect(await mesh.server.logs.waitFor((l) => l.reason === 'no_client_cert')).toMatchObject({ msg: 'connection refused' });
  });

  it('packs streams up to the peer\'s limit per connection, then opens another', async () => {
    const open = await Promise.all(Array.from({ length: 6 }, () => connect(portOf(mesh.outbound.address))));
    const replies = open.map((s) => readAll(s));
    open.forEach((s, i) => s.write(`stream ${i}`));
    await Promise.all(open.map((s) => new Promise((r) => s.once('data', r))));
    expect(mesh.client.tunnelPools()[0]).toMatchObject({ connections: 2, streamsActive: 6 });
    open.forEach((s) => s.end());
    for (const [i, r] of (await Promise.all(replies)).entries()) expect(r.data.toString()).toBe(`stream ${i}`);
  });

  it('resets a request with more header pairs than allowed; the connection keeps serving', async () => {
    const s = session();
    const extra = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-filler-${i}`, 'x']));
    const big = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}`, ...extra });
    expect(await closed(big)).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
    const ok = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` }, { endStream: false });
    const status = await new Promise((r) => ok.once('response', (h) => r(h[':status'])));
    expect(status).toBe(200);
    ok.close();
    s.close();
  });

  it('ends the connection of a peer that keeps opening streams it is refused', async () => {
    const s = session();
    let code: number | undefined;
    s.once('goaway', (c: number) => { code = c; });
    await new Promise((r) => s.once('remoteSettings', r));
    // Four at a time (the SETTINGS limit), each one refused (target_not_allowed), until the inbound has had enough.
    for (let i = 0; i < 200 && code === undefined && !s.destroyed; i += 4) {
      const batch = [];
      try {
        for (let j = 0; j < 4; j++) batch.push(closed(s.request({ ':method': 'CONNECT', ':authority': '10.9.9.9:22' })));
      } catch {
        break; // the session is going away
      }
      await Promise.all(batch);
    }
    expect(code).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(await mesh.server.logs.waitFor((l) => l.msg === 'tunnel connection closed: too many refused streams')).toMatchObject({ level: 'warn', peerId: WEB, refused: 100 });
    s.destroy();
    const c = await connect(portOf(mesh.outbound.address));
    const r = readAll(c);
    c.end('still served');
    expect((await r).data.toString()).toBe('still served');
  });

  it('closes a stream that carries nothing for the listener\'s idleTimeout', async () => {
    const s = session();
    const req = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` }, { endStream: false });
    await new Promise((r) => req.once('response', r));
    const started = Date.now();
    expect(await closed(req)).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    s.close();
  });
});
