// Each Node.js internal ztmesh relies on (common/node-internals.ts), exercised on real sockets: this file fails
// loudly on a Node.js that changed one, and each adapter says `node_internals_changed` when the shape is not there.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { GrpcHandOff } from '../../../src/common/grpc-hand-off.js';
import { boundEndpoint, injectConnection, namePeer, offerSession, rawSocketOf, readInto, sessionWantsIO, socketFd } from '../../../src/common/node-internals.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

const ca = makeCa('example.org');
const leaf = makeLeaf(ca, 'spiffe://example.org/ns/default/sa/api');
const serverOptions = { key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.3' as const };

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0)) c(); });

/** A TCP listener whose accepted sockets go to `onRaw`; returns its port. */
async function tcpListener(onRaw: (raw: net.Socket) => void): Promise<number> {
  const server = net.createServer(onRaw);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** A TLS client to 127.0.0.1:port trusting the test CA; resolves with the socket once the handshake is done. */
function tlsClient(port: number, session?: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, checkServerIdentity: () => undefined, ...(session ? { session } : {}) });
    cleanups.push(() => t.destroy());
    t.once('secureConnect', () => resolve(t));
    t.once('error', reject);
  });
}

describe('node internals', () => {
  it('injectConnection hands an accepted socket to a never-listening tls.Server, and rawSocketOf finds it again', async () => {
    const engine = tls.createServer(serverOptions);
    const accepted: net.Socket[] = [];
    const secure = new Promise<tls.TLSSocket>((resolve) => engine.once('secureConnection', resolve));
    const port = await tcpListener((raw) => { accepted.push(raw); injectConnection(engine, raw); });
    await tlsClient(port);
    const t = await secure;
    expect(rawSocketOf(t)).toBe(accepted[0]);
  });

  it('says node_internals_changed for a server without a connection listener, and a TLS socket without its TCP socket', () => {
    const bare = tls.createServer(serverOptions);
    bare.removeAllListeners('connection');
    expect(() => injectConnection(bare, new net.Socket())).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
    const orphan = new tls.TLSSocket(new net.Socket());
    cleanups.push(() => orphan.destroy());
    (orphan as unknown as { _parent: unknown })._parent = null;
    expect(() => rawSocketOf(orphan)).toThrow(expect.objectContaining({ code: 'node_internals_changed', message: expect.stringContaining(process.version) }));
  });

  it('offerSession resumes a TLS 1.3 session on a socket made without the `session` option', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = tls.createServer(serverOptions, (s) => s.end('x'));
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
      cleanups.push(() => server.close());
    });
    const first = await new Promise<Buffer>((resolve, reject) => {
      const t = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, checkServerIdentity: () => undefined });
      cleanups.push(() => t.destroy());
      t.once('session', resolve);
      t.once('error', reject);
      t.resume();
    });
    const resumed = await new Promise<boolean>((resolve, reject) => {
      const t = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, checkServerIdentity: () => undefined });
      cleanups.push(() => t.destroy());
      offerSession(t, first);
      t.once('secureConnect', () => resolve(t.isSessionReused()));
      t.once('error', reject);
    });
    expect(resumed).toBe(true);
    expect(() => offerSession({} as tls.TLSSocket, first)).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
  });

  it('socketFd and boundEndpoint read an open socket\'s descriptor and local endpoint, and nothing once it is closed', async () => {
    const port = await tcpListener((raw) => raw.on('error', () => {}));
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    expect(socketFd(s)).toBeGreaterThan(2);
    expect(boundEndpoint(s)).toEqual({ address: '127.0.0.1', port: s.localPort, family: 'IPv4' });
    s.destroy();
    await new Promise((r) => s.once('close', r));
    expect(socketFd(s)).toBe(-1);
    expect(boundEndpoint(s)).toEqual({});
    const strange = Object.create(net.Socket.prototype, { _handle: { value: {} } }) as net.Socket;
    expect(() => socketFd(strange)).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
    expect(() => boundEndpoint(strange)).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
  });

  it('namePeer gives a Unix socket a peer name that grpc-js reports for every call on it (through the hand-off)', async () => {
    const dir = tempDir('ztmesh-peer-');
    const server = new grpc.Server();
    const seen: string[] = [];
    const echo = { path: '/t.T/Echo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
    const handOff = new GrpcHandOff<string>(server.createConnectionInjector(grpc.ServerCredentials.createInsecure()));
    server.addService({ Echo: echo }, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => { seen.push(`${call.getPeer()} ${handOff.facts(call.getPeer())}`); cb(null, call.request); } });
    const listener = net.createServer((s) => {
      namePeer(s, 'unix:test#1');
      handOff.hand(s, 'unix:test#1', 'facts of #1');
    });
    await new Promise<void>((r) => listener.listen(join(dir, 's.sock'), r));
    const client = new grpc.Client(`unix://${join(dir, 's.sock')}`, grpc.credentials.createInsecure());
    cleanups.push(() => { client.close(); server.forceShutdown(); listener.close(); });
    const call = () => new Promise((resolve, reject) => client.makeUnaryRequest('/t.T/Echo', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (e, v) => (e ? reject(e) : resolve(v))));
    await call();
    await call();
    expect(seen).toEqual(['unix:test#1 facts of #1', 'unix:test#1 facts of #1']);
    expect(handOff.size).toBe(1);
    const named = new net.Socket();
    Object.defineProperty(named, 'remoteAddress', { value: '10.0.0.1' });
    expect(() => namePeer(named, 'x')).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
  });

  it('sessionWantsIO: true for a live HTTP/2 session, false once nghttp2 ended it on a connection error, and once destroyed', async () => {
    const server = http2.createServer();
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => { sessions.push(s); s.on('error', () => {}); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const raw = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    raw.on('error', () => {});
    cleanups.push(() => raw.destroy());
    await new Promise((r) => raw.once('connect', r));
    raw.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    for (let i = 0; i < 200 && sessions.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const session = sessions[0]!;
    expect(sessionWantsIO(session)).toBe(true);
    // A PING of 3 bytes: FRAME_SIZE_ERROR, a connection error. nghttp2 sends GOAWAY and wants nothing more; node says nothing.
    raw.write(Buffer.from([0, 0, 3, 6, 0, 0, 0, 0, 0, 1, 2, 3]));
    for (let i = 0; i < 200 && sessionWantsIO(session); i++) await new Promise((r) => setTimeout(r, 5));
    expect(sessionWantsIO(session)).toBe(false);
    expect(session.destroyed).toBe(false);
    const key = Object.getOwnPropertySymbols(session).find((k) => k.description === 'kHandle')!;
    session.destroy();
    expect(sessionWantsIO(session)).toBe(false);
    const changed = { destroyed: false, [key]: {} } as unknown as http2.Http2Session;
    expect(() => sessionWantsIO(changed)).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
  });

  it('readInto makes an accepted socket and a TLS socket read into one buffer of ours, and says node_internals_changed without the means', async () => {
    const buffer = new Uint8Array(64 * 1024);
    const reads: string[] = [];
    const onRead = (n: number, b: Uint8Array) => { expect(b).toBe(buffer); reads.push(Buffer.from(b.subarray(0, n)).toString()); return true; };
    const accepted = new Promise<net.Socket>((resolve) => {
      const server = net.createServer({ pauseOnConnect: true }, resolve);
      server.listen(0, '127.0.0.1', () => net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', function (this: net.Socket) { this.end('plain'); cleanups.push(() => this.destroy()); }));
      cleanups.push(() => server.close());
    });
    const raw = await accepted;
    readInto(raw, buffer, onRead);
    raw.resume();
    await new Promise((r) => raw.once('end', r));
    const engine = tls.createServer(serverOptions);
    const secure = new Promise<tls.TLSSocket>((resolve) => engine.once('secureConnection', resolve));
    const port = await tcpListener((s) => injectConnection(engine, s));
    const client = await tlsClient(port);
    const t = await secure;
    readInto(t, buffer, onRead);
    t.resume();
    client.end('tls');
    await new Promise((r) => t.once('end', r));
    expect(reads).toEqual(['plain', 'tls']);
    const strange = Object.assign(new net.Socket(), { _handle: {} });
    expect(() => readInto(strange, buffer, onRead)).toThrow(expect.objectContaining({ code: 'node_internals_changed' }));
  });
});
