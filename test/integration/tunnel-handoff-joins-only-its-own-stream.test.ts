// The inbound's side of a handoff, against clients of our own over mTLS: a connection with ALPN ztmesh-handoff/1 takes
// the place of a tunnel stream only if its identity is the one of the stream's tunnel connection and its join request
// names that connection's key and an open stream; another allowed identity holding the key, a malformed request and
// a stream that is gone get the refusal byte (the first two a handoff_refused line naming the peer), and the stream
// goes on on the tunnel. The rightful join gets the yes byte, the stream ends with the moved trailer, and the app's
// bytes go on, both ways, on the new connection.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeJoin, HANDOFF_ALPN, HANDOFF_HEADER, JOIN_ACCEPTED, JOIN_REFUSED } from '../../src/sidecar/tunnel/handoff.js';
import { MOVED_TRAILER } from '../../src/sidecar/tunnel/protocol.js';
import { inboundForSuite, makeLeaf, metric, TD, until, WEB } from '../helpers/datapath.js';

const WEB2 = `spiffe://${TD}/ns/default/sa/web2`;

describe('handoff joins at the inbound', () => {
  const t = inboundForSuite({ onConn: (s) => s.pipe(s), inbound: { allow: [WEB, WEB2] } });
  const closers: (() => void)[] = [];
  afterAll(() => { for (const c of closers) c(); });

  const tlsTo = (id: string, alpn: string[]) => {
    const leaf = makeLeaf(t.ca, id);
    return { host: '127.0.0.1', port: t.port, key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem, ALPNProtocols: alpn, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' as const };
  };

  /** A tunnel stream of WEB's, answered 200 by the inbound, echoing through the app. */
  const tunnelStream = async () => {
    const session = http2.connect(`https://127.0.0.1:${t.port}`, { createConnection: () => tls.connect(tlsTo(WEB, ['h2'])) });
    session.on('error', () => {});
    closers.push(() => session.destroy());
    const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${t.port}` }, { endStream: false, waitForTrailers: true });
    stream.on('error', () => {});
    const headers = await new Promise<http2.IncomingHttpHeaders>((r) => stream.once('response', r));
    expect(headers[':status']).toBe(200);
    const key = String(headers[HANDOFF_HEADER]);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    return { stream, key: Buffer.from(key, 'hex'), id: stream.id! };
  };

  /** Sends `request` on a handoff connection as `id`; resolves with the answer byte (and the connection). */
  const join = async (id: string, request: Buffer) => {
    const c = tls.connect(tlsTo(id, [HANDOFF_ALPN]));
    c.on('error', () => {});
    closers.push(() => c.destroy());
    await new Promise((r) => c.once('secureConnect', r));
    expect(c.alpnProtocol).toBe(HANDOFF_ALPN);
    c.write(request);
    const answer = await new Promise<number | undefined>((resolve) => {
      c.once('readable', () => resolve((c.read(1) as Buffer | null)?.[0]));
      c.once('close', () => resolve(undefined));
    });
    return { answer, c };
  };

  const echo = async (s: NodeJS.ReadWriteStream & { once(e: 'data', f: (b: Buffer) => void): unknown }, text: string) => {
    const got = new Promise<string>((r) => s.once('data', (b: Buffer) => r(b.toString())));
    s.write(text);
    return got;
  };

  const refusals = () => t.dp.logs.refusals().filter((l) => l.reason === 'handoff_refused');

  it('refuses another identity that holds the key, and a malformed request, naming the peer; the stream goes on', async () => {
    const { stream, key, id } = await tunnelStream();
    expect(await echo(stream, 'before')).toBe('before');
    expect((await join(WEB2, encodeJoin(key, id))).answer).toBe(JOIN_REFUSED);
    expect(refusals().at(-1)).toMatchObject({ level: 'warn', peerId: WEB2, detail: `the tunnel connection belongs to ${WEB}` });
    const bad = Buffer.from(encodeJoin(key, id));
    bad[0] = 0x41;
    expect((await join(WEB, bad)).answer).toBe(JOIN_REFUSED);
    expect(refusals().at(-1)).toMatchObject({ peerId: WEB, detail: 'not a join request' });
    expect(await echo(stream, 'still here')).toBe('still here');
    expect(await metric(t.dp.registry, 'ztmesh_tunnel_handoffs_total', { direction: 'inbound', reason: 'join', result: 'refused' })).toBe(2);
    stream.close();
  });

  it('refuses, without a warning, a stream that is gone and a key no connection has', async () => {
    const { stream, key, id } = await tunnelStream();
    stream.close();
    await until(() => stream.closed);
    const before = refusals().length;
    expect((await join(WEB, encodeJoin(key, id))).answer).toBe(JOIN_REFUSED);
    expect((await join(WEB, encodeJoin(Buffer.alloc(16, 7), 1))).answer).toBe(JOIN_REFUSED);
    expect(refusals().length).toBe(before);
  });

  it('moves the stream for its own identity: the moved trailer ends it, and the app answers on the new connection', async () => {
    const { stream, key, id } = await tunnelStream();
    expect(await echo(stream, 'on the tunnel')).toBe('on the tunnel');
    const trailers = new Promise<http2.IncomingHttpHeaders>((r) => stream.once('trailers', r));
    const { answer, c } = await join(WEB, encodeJoin(key, id));
    expect(answer).toBe(JOIN_ACCEPTED);
    expect((await trailers)[MOVED_TRAILER]).toBe('1');
    // Our side of the stream ends with the marker too: from now on the app's bytes are on `c`, both ways.
    stream.once('wantTrailers', () => stream.sendTrailers({ [MOVED_TRAILER]: '1' }));
    stream.end();
    await new Promise((r) => stream.once('close', r));
    expect(await echo(c as unknown as net.Socket, 'moved')).toBe('moved');
    expect(await metric(t.dp.registry, 'ztmesh_tunnel_handoffs_total', { direction: 'inbound', reason: 'join', result: 'moved' })).toBe(1);
    c.end();
  });
});
