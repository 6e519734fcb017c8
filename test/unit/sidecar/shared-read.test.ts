// SharedBufferReader: two dialed sockets read into one shared buffer at once and each destination gets exactly its
// source's bytes (TLS destinations under backpressure, and plain ones written with write(2) or a copy); a destination
// that is gone stops the reads; a TLS socket after its handshake and an accepted socket take a reader. Real TCP and
// TLS sockets on 127.0.0.1.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { setBufferSizes } from '../../../src/common/socket-buffers.js';
import { SHARED_READ_BYTES, SharedBufferReader, sharedReadBuffer } from '../../../src/sidecar/shared-read.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const closers: (() => void)[] = [];
afterEach(() => { for (const c of closers.splice(0)) c(); });

/** A TCP server that sends `payload` to each client and then ends. */
async function sender(payload: Buffer): Promise<number> {
  const server = net.createServer((s) => { s.on('error', () => {}); s.end(payload); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** A sink (TLS or plain) that holds its reads paused for `stallMs` first, so that writers into it see backpressure. */
async function sink(kind: 'tls' | 'plain', stallMs: number): Promise<{ port: number; received: Promise<Buffer>; ca?: string }> {
  let resolve!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => { resolve = r; });
  const onConn = (s: net.Socket) => {
    const chunks: Buffer[] = [];
    s.pause();
    setTimeout(() => s.resume(), stallMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => { resolve(Buffer.concat(chunks)); s.end(); });
  };
  if (kind === 'plain') {
    const server = net.createServer(onConn).listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => server.close());
    return { port: (server.address() as net.AddressInfo).port, received };
  }
  const ca = makeCa();
  const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/default/sa/sink');
  const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.3' }, onConn).listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, received, ca: ca.certPem };
}

async function destination(kind: 'tls' | 'plain', port: number, ca?: string): Promise<net.Socket> {
  if (kind === 'plain') {
    const s = net.connect({ port, host: '127.0.0.1' });
    await once(s, 'connect');
    return s;
  }
  const t = tls.connect({ port, host: '127.0.0.1', ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  await once(t, 'secureConnect');
  return t;
}

/** Dials `port` with a reader on `buffer` (paused, as dialApp leaves it) and forwards into `dest`. */
async function forward(port: number, buffer: Uint8Array, dest: net.Socket): Promise<net.Socket> {
  const reader = new SharedBufferReader(buffer);
  const source = net.connect({ port, host: '127.0.0.1', onread: reader.onread });
  source.pause();
  await once(source, 'connect');
  reader.forwardTo(source, dest);
  return source;
}

describe('SharedBufferReader', () => {
  it.each(['tls', 'plain'] as const)('two sockets sharing one buffer each deliver exactly their own bytes into a %s destination under backpressure, then its FIN', async (kind) => {
    const buffer = sharedReadBuffer();
    const payloads = [randomBytes(6 * 1024 * 1024), randomBytes(5 * 1024 * 1024 + 77)];
    const runs = await Promise.all(payloads.map(async (payload, i) => {
      const from = await sender(payload);
      const to = await sink(kind, 150 * (i + 1));
      const dest = await destination(kind, to.port, to.ca);
      await forward(from, buffer, dest);
      return to.received;
    }));
    const got = await Promise.all(runs);
    expect(got.map((b) => b.length)).toEqual(payloads.map((p) => p.length));
    expect(got.map(sha)).toEqual(payloads.map(sha));
  });

  it('hands a TLS destination the shared buffer itself only when nothing waits in its queue; a queued chunk is a copy', async () => {
    const to = await sink('tls', 0);
    const dest = await destination('tls', to.port, to.ca);
    const reader = new SharedBufferReader(sharedReadBuffer());
    const from = await sender(Buffer.alloc(0));
    const source = net.connect({ port: from, host: '127.0.0.1', onread: reader.onread });
    source.pause();
    await once(source, 'connect');
    reader.forwardTo(source, dest);
    // Two reads in one tick, as libuv makes them when a socket has more: the first write is still in flight when the
    // second comes, so the second waits in the queue while the next read overwrites the buffer.
    const buf = new Uint8Array(SHARED_READ_BYTES);
    const parts = [randomBytes(1000), randomBytes(1000), randomBytes(1000)];
    for (const part of parts) {
      buf.set(part);
      reader.onread.callback(part.length, buf);
    }
    buf.fill(0);
    dest.end();
    expect(sha(await to.received)).toBe(sha(Buffer.concat(parts)));
    source.destroy();
  });

  it('asks node to stop reading (onread returns false) once its destination is gone, and writes nothing into it', async () => {
    const to = await sink('plain', 0);
    const dest = await destination('plain', to.port);
    const from = await sender(randomBytes(1024));
    const reader = new SharedBufferReader(sharedReadBuffer());
    const source = net.connect({ port: from, host: '127.0.0.1', onread: reader.onread });
    source.pause();
    await once(source, 'connect');
    reader.forwardTo(source, dest);
    const chunk = new Uint8Array(SHARED_READ_BYTES).fill(7);
    expect(reader.onread.callback(100, chunk)).toBe(true); // allowed: forwarded while dest takes it
    dest.end();
    await once(dest, 'finish');
    dest.destroy();
    expect(reader.onread.callback(100, chunk)).toBe(false); // refused: dest gone, reading stops
    expect(await to.received).toEqual(Buffer.alloc(100, 7));
    source.destroy();
  });

  it('attaches to a TLS socket after its handshake: what it read before goes first, then its reads through the shared buffer, in order', async () => {
    const ca = makeCa();
    const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/default/sa/early');
    const payload = randomBytes(3 * 1024 * 1024 + 5);
    const secure = new Promise<tls.TLSSocket>((resolve) => {
      const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.3' }, resolve).listen(0, '127.0.0.1');
      closers.push(() => server.close());
      server.once('listening', () => {
        const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: ca.certPem, checkServerIdentity: () => undefined });
        client.on('error', () => {});
        closers.push(() => client.destroy());
        // Bytes right behind the handshake: the server socket has some in its readable buffer before the reader attaches.
        client.once('secureConnect', () => client.end(payload));
      });
    });
    const t = await secure;
    await new Promise<void>((r) => t.once('readable', () => r()));
    expect(t.readableLength).toBeGreaterThan(0);
    const to = await sink('plain', 100);
    const dest = await destination('plain', to.port);
    setBufferSizes(dest, { send: 32 * 1024, receive: 32 * 1024 }); // so that the stalled sink pushes back soon
    const reader = SharedBufferReader.attach(t, sharedReadBuffer());
    const pauses: string[] = [];
    t.on('pause', () => pauses.push('pause'));
    t.on('resume', () => pauses.push('resume'));
    reader.forwardTo(t, dest);
    const got = await to.received;
    expect(got.length).toBe(payload.length);
    expect(sha(got)).toBe(sha(payload));
    // The sink held its reads for a while: the TLS socket was paused (what the liveness sweep watches) and resumed.
    expect(pauses).toContain('pause');
    expect(pauses.at(-1)).toBe('resume');
  });

  it('attaches to an accepted socket before it reads, and forwards into a plain destination with write(2) of its own', async () => {
    const payload = randomBytes(2 * 1024 * 1024 + 3);
    const accepted = new Promise<net.Socket>((resolve) => {
      const server = net.createServer({ pauseOnConnect: true }, resolve).listen(0, '127.0.0.1');
      closers.push(() => server.close());
      server.once('listening', () => {
        const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
        closers.push(() => client.destroy());
        client.end(payload);
      });
    });
    const source = await accepted;
    const to = await sink('plain', 0);
    const dest = await destination('plain', to.port);
    const queued = { writes: 0 };
    const realWrite = dest.write.bind(dest);
    dest.write = ((...args: Parameters<typeof realWrite>) => { queued.writes++; return realWrite(...args); }) as typeof dest.write;
    SharedBufferReader.attach(source, sharedReadBuffer()).forwardTo(source, dest);
    expect(sha(await to.received)).toBe(sha(payload));
    // Most reads went straight to the kernel; node's queue took only what the kernel could not take at once.
    expect(queued.writes).toBeLessThan(Math.ceil(payload.length / SHARED_READ_BYTES));
  });
});
