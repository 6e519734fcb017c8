// splice() over real sockets and a real HTTP/2 session (h2c on 127.0.0.1): its idle check runs on the injected clock
// and leaves no timer behind, a tunnel stream destroyed with its connection is collected at once (node 20's own
// stream timer kept it, with what it buffered, for the whole idle timeout), and a reset stream drops its data.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/common/clock.js';
import { socketFd } from '../../../src/common/node-internals.js';
import type { PeerState } from '../../../src/common/socket-poll.js';
import { LivenessSweep, SWEEP_INTERVAL_MS } from '../../../src/sidecar/liveness-sweep.js';
import { createHash, randomBytes } from 'node:crypto';
import { PAUSED_AFTER_FIN_MS, plainLeg, splice, withSharedReads, type Leg, type SocketLeg, type SpliceEnd, type SpliceHandle, type StreamLeg } from '../../../src/sidecar/pipe.js';
import { sharedReadBuffer } from '../../../src/sidecar/shared-read.js';
import { LogCapture, readAllOrReset, socketPair } from '../../helpers/datapath.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const HOUR = 3_600_000;

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0)) c(); });

/** A connected pair of sockets on 127.0.0.1, [accepted, client] (both closed after the test unless `keep` is false). */
async function pair(keep = true): Promise<[net.Socket, net.Socket]> {
  const sockets = await socketPair();
  if (keep) for (const s of sockets) cleanups.push(() => s.destroy());
  return sockets;
}

/** A leg that takes nothing and sends nothing (an app that stopped reading). */
function stuckLeg(): Leg {
  const stuck = Object.assign(new Duplex({ highWaterMark: 1, read() {}, write() {} }), { bytesRead: 0, bytesWritten: 0 }) as unknown as net.Socket;
  return { stream: stuck, tcp: stuck };
}

/** An h2c server whose first stream is answered 200 and handed to `onStream`; and a client session to it. */
async function h2Pair(onStream: (s: http2.ServerHttp2Stream) => void): Promise<{ client: http2.ClientHttp2Session; socket: net.Socket }> {
  const server = http2.createServer();
  server.on('stream', (s) => { s.on('error', () => {}); s.respond({ ':status': 200 }, { waitForTrailers: true }); onStream(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  socket.on('error', () => {});
  const client = http2.connect('http://127.0.0.1', { createConnection: () => socket });
  client.on('error', () => {});
  cleanups.push(() => { client.destroy(); server.close(); });
  return { client, socket };
}

/** The app's end of a socket pair, in a holder only (so that the test's frame keeps no reference to it). */
async function appSocket(): Promise<{ side?: net.Socket }> {
  const [side, client] = await pair(false);
  cleanups.push(() => client.destroy());
  return { side };
}

const ended = () => {
  let resolve!: (e: SpliceEnd) => void;
  const promise = new Promise<SpliceEnd>((r) => { resolve = r; });
  return { promise, onEnd: resolve };
};

describe('splice', () => {
  it('closes an idle connection on the injected clock, not before its idle time, and leaves no timer', async () => {
    const clock = new FakeClock(Date.now());
    const [appSide, appClient] = await pair();
    const [peerSide, peerClient] = await pair();
    const end = ended();
    splice(plainLeg(peerSide), plainLeg(appSide), { idleTimeoutMs: 1_000, clock, onEnd: end.onEnd });
    peerClient.write('x');
    await new Promise((r) => appClient.once('data', r));
    await clock.advance(900);
    expect(appSide.destroyed).toBe(false); // refused path: not idle yet
    await clock.advance(400);
    const e = await end.promise;
    expect(e.idle).toBe(true);
    expect(appSide.destroyed && peerSide.destroyed).toBe(true);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('lets a tunnel stream destroyed with its connection be collected at once', async () => {
    const registry = new FinalizationRegistry<string>((held) => { collected.add(held); });
    const collected = new Set<string>();
    let spliced = false;
    // Nothing of the test holds the app's socket (its listeners hold the stream leg until both are collected).
    const app = await appSocket();
    const { client, socket } = await h2Pair((stream) => {
      registry.register(stream, 'stream');
      const leg: Leg = { stream, tcp: null };
      const side = app.side!;
      delete app.side;
      splice(leg, plainLeg(side), { idleTimeoutMs: HOUR, clock: systemClock, onEnd: () => { spliced = true; } });
    });
    const req = client.request({ ':method': 'CONNECT', ':authority': 'a:1' }, { endStream: false });
    req.on('error', () => {});
    await new Promise((r) => req.once('response', r));
    socket.destroy(); // the peer's connection drops: no RST_STREAM, the server session is destroyed with its streams
    for (let i = 0; i < 200 && !spliced; i++) await new Promise((r) => setTimeout(r, 5));
    expect(spliced).toBe(true);
    for (let i = 0; i < 20 && !collected.has('stream'); i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    expect(collected.has('stream')).toBe(true);
  });

  it('drops what a reset stream buffered when it closes', async () => {
    let server: http2.ServerHttp2Stream | undefined;
    let bufferedAtClose = -1;
    // An app leg that takes nothing and sends nothing: the stream's data stays in the stream.
    const { client } = await h2Pair((stream) => {
      server = stream;
      splice({ stream, tcp: null }, stuckLeg(), { idleTimeoutMs: HOUR, clock: systemClock, onEnd: () => {} });
      stream.once('close', () => { bufferedAtClose = stream.readableLength; });
    });
    const req = client.request({ ':method': 'CONNECT', ':authority': 'a:1' }, { endStream: false });
    req.on('error', () => {});
    await new Promise((r) => req.once('response', r));
    req.write(Buffer.alloc(48 * 1024));
    for (let i = 0; i < 200 && (server?.readableLength ?? 0) < 16 * 1024; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server!.readableLength).toBeGreaterThanOrEqual(16 * 1024);
    req.close(http2.constants.NGHTTP2_CANCEL);
    for (let i = 0; i < 200 && bufferedAtClose < 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(bufferedAtClose).toBe(0);
  });

  describe('a peer\'s reset that node reads as the end of its input', () => {
    // libuv reads the bytes that came with an RST and, seeing POLLHUP, reports EOF without the read that would have
    // failed with ECONNRESET; the splice asks the kernel (common/tcp-state.ts) before it passes a FIN on.
    const spliced = async (reads: 'pipe' | 'shared buffer') => {
      const [appSide, appClient] = await pair();
      const [peerSide, peerClient] = await pair();
      const peer = reads === 'pipe' ? plainLeg(peerSide) : withSharedReads(plainLeg(peerSide) as SocketLeg, sharedReadBuffer());
      const end = ended();
      splice(peer, plainLeg(appSide), { idleTimeoutMs: HOUR, clock: systemClock, onEnd: end.onEnd });
      let peerEnded = false;
      peerSide.once('end', () => { peerEnded = true; });
      return { appClient, peerClient, end, app: readAllOrReset(appClient), peerEnded: () => peerEnded };
    };

    for (const reads of ['pipe', 'shared buffer'] as const) {
      it(`resets the app rather than ending it (${reads})`, async () => {
        const { peerClient, end, app, peerEnded } = await spliced(reads);
        // The bytes, then the RST, both before this process reads again.
        peerClient.write('bytes before the reset');
        peerClient.resetAndDestroy();
        expect((await app).error?.code).toBe('ECONNRESET');
        expect(((await end.promise).error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
        expect(peerEnded()).toBe(true); // node did report the reset as an end
      });

      it(`passes a FIN on as a FIN, after the bytes before it (${reads})`, async () => {
        const { peerClient, app, peerEnded } = await spliced(reads);
        peerClient.end('bytes before the FIN');
        const r = await app;
        expect(r.error).toBeUndefined();
        expect(r.data.toString()).toBe('bytes before the FIN');
        expect(peerEnded()).toBe(true);
      });
    }
  });

  describe('handoff: a tunnel stream gives its place to a socket leg of its own', () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    /** Everything a socket receives until its FIN. */
    const drain = (s: net.Socket) => new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.once('end', () => resolve(Buffer.concat(chunks)));
    });
    /** Writes `payload` in pieces, one per turn of the event loop, then FIN; calls `at` once `mark` bytes went out. */
    const feed = async (s: net.Socket, payload: Buffer, mark: number, at: () => void) => {
      let marked = false;
      for (let off = 0; off < payload.length; off += 64 * 1024) {
        if (!s.write(payload.subarray(off, off + 64 * 1024))) await new Promise((r) => s.once('drain', r));
        if (!marked && off >= mark) { marked = true; at(); }
        await new Promise((r) => setImmediate(r));
      }
      s.end();
    };

    /** A TLS 1.3 connection on 127.0.0.1, half-open both ways, as the handoff's mTLS is: [server side, client side]. */
    const tlsPair = async (): Promise<[net.Socket, net.Socket]> => {
      const ca = makeCa();
      const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/default/sa/api');
      const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.3', allowHalfOpen: true });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const accepted = new Promise<tls.TLSSocket>((r) => server.once('secureConnection', r));
      const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ca: ca.certPem, checkServerIdentity: () => undefined });
      client.allowHalfOpen = true;
      await new Promise((r) => client.once('secureConnect', r));
      const side = await accepted;
      server.close();
      for (const s of [side, client]) { s.on('error', () => {}); cleanups.push(() => s.destroy()); }
      return [side, client];
    };

    /** client app ↔ [A splice] ↔ h2 stream ↔ [B splice] ↔ server app, with a socket pair ready to take the stream's place. */
    const setup = async (readers = true, handoffOverTls = false) => {
      const [appASide, appAClient] = await pair();
      const [appBSide, appBClient] = await pair();
      const [rB, rA] = handoffOverTls ? await tlsPair() : await pair();
      // As the data path has them: the app sockets and the handoff's sockets read into one shared buffer.
      const buffer = readers ? sharedReadBuffer() : undefined;
      const leg = (s: net.Socket) => withSharedReads({ stream: s, tcp: s }, buffer);
      const ends = { a: ended(), b: ended() };
      let handleB!: SpliceHandle;
      let legB!: StreamLeg;
      const { client } = await h2Pair((stream) => {
        legB = { stream, tcp: null };
        handleB = splice(legB, leg(appBSide), { idleTimeoutMs: HOUR, clock: systemClock, onEnd: ends.b.onEnd });
      });
      const req = client.request({ ':method': 'POST', ':path': '/' }, { endStream: false, waitForTrailers: true });
      req.on('error', () => {});
      await new Promise((r) => req.once('response', r));
      const legA: StreamLeg = { stream: req, tcp: null };
      const handleA = splice(leg(appASide), legA, { idleTimeoutMs: HOUR, clock: systemClock, onEnd: ends.a.onEnd });
      // Each handoff's socket reads into the shared buffer from its first handoff on (after its first bytes, if a test
      // read them).
      const next: { a?: SocketLeg; b?: SocketLeg } = {};
      return {
        appAClient, appBClient, rA, rB, req, ends,
        handoffA: () => handleA.handoff(legA, (next.a ??= leg(rA))),
        handoffB: () => handleB.handoff(legB, (next.b ??= leg(rB))),
      };
    };

    it.each([
      ['the server side first, as the protocol does', 'b', true], ['the client side first (the moved marker waits for its leg)', 'a', true],
      ['the server side first, legs without the shared buffer', 'b', false], ['the client side first, legs without the shared buffer', 'a', false],
    ] as const)(
      'moves 8 MiB each way across the handoff without losing or reordering a byte, %s; the stream ends cleanly', async (_, first, readers) => {
        const t = await setup(readers);
        const up = randomBytes(8 * 1024 * 1024 + 11);
        const down = randomBytes(8 * 1024 * 1024 + 7);
        const gotAtB = drain(t.appBClient);
        const gotAtA = drain(t.appAClient);
        let moved = false;
        const handoff = () => {
          if (moved) return;
          moved = true;
          const a = () => expect(t.handoffA()).toBe(true);
          const b = () => expect(t.handoffB()).toBe(true);
          if (first === 'b') { b(); setTimeout(a, 5); } else { a(); setTimeout(b, 5); }
        };
        await Promise.all([feed(t.appAClient, up, 2 * 1024 * 1024, handoff), feed(t.appBClient, down, 3 * 1024 * 1024, handoff)]);
        const [atB, atA] = await Promise.all([gotAtB, gotAtA]);
        expect(atB.length).toBe(up.length);
        expect(sha(atB)).toBe(sha(up));
        expect(atA.length).toBe(down.length);
        expect(sha(atA)).toBe(sha(down));
        const [ea, eb] = await Promise.all([t.ends.a.promise, t.ends.b.promise]);
        expect(ea.error ?? eb.error).toBeUndefined();
        expect(t.req.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
        // Most of the bytes crossed the handoff's sockets, not the stream.
        expect(t.rA.bytesRead + t.rB.bytesRead).toBeGreaterThan(8 * 1024 * 1024);
      });

    it('passes a FIN that went into the stream before the handoff, and refuses a second handoff and one after the end', async () => {
      const t = await setup();
      const gotAtB = drain(t.appBClient);
      t.appAClient.end('bye'); // the client app's FIN goes into the stream as its END_STREAM
      expect(await gotAtB).toEqual(Buffer.from('bye'));
      const gotAtA = drain(t.appAClient);
      expect(t.handoffB()).toBe(true);
      expect(t.handoffB()).toBe(false); // one handoff per splice
      expect(t.handoffA()).toBe(true);
      t.appBClient.end('back');
      expect(await gotAtA).toEqual(Buffer.from('back'));
      await Promise.all([t.ends.a.promise, t.ends.b.promise]);
      expect(t.handoffA()).toBe(false);
    });

    it('after the client app\'s FIN passed, reads the server app\'s bytes off a TLS handoff connection before closing it', async () => {
      const t = await setup(true, true);
      const gotAtB = drain(t.appBClient);
      t.appAClient.end('bye');
      expect(await gotAtB).toEqual(Buffer.from('bye'));
      const gotAtA = drain(t.appAClient);
      // As the inbound does: its answer byte, then the server app's bytes on the handoff's connection; A reads the
      // answer as the outbound does, and takes the connection while the app's bytes arrive.
      t.rB.write(Buffer.from([1]));
      expect(t.handoffB()).toBe(true);
      const down = randomBytes(4 * 1024 * 1024 + 3);
      t.appBClient.end(down);
      await new Promise<void>((resolve) => {
        const onReadable = () => {
          if (!t.rA.read(1)) return;
          t.rA.removeListener('readable', onReadable);
          resolve();
        };
        t.rA.on('readable', onReadable);
      });
      await new Promise((r) => setTimeout(r, 20));
      expect(t.handoffA()).toBe(true);
      const atA = await gotAtA;
      expect(atA.length).toBe(down.length);
      expect(sha(atA)).toBe(sha(down));
      const [ea, eb] = await Promise.all([t.ends.a.promise, t.ends.b.promise]);
      expect(ea.error ?? eb.error).toBeUndefined();
    });

    it('resets both apps when the handoff\'s connection fails', async () => {
      const t = await setup();
      expect(t.handoffB()).toBe(true);
      expect(t.handoffA()).toBe(true);
      t.rA.resetAndDestroy();
      const [ea, eb] = await Promise.all([t.ends.a.promise, t.ends.b.promise]);
      expect(ea.error).toBeDefined();
      expect(eb.error).toBeDefined();
    });
  });

  describe('a leg paused by backpressure, whose peer the sweep watches', () => {
    /** A peer socket spliced to an app that reads nothing, paused; `state` is what poll(2) would say of it. */
    const pausedPeer = async (state: { now: PeerState }) => {
      const clock = new FakeClock(Date.now());
      const sweep = new LivenessSweep({ clock, log: new LogCapture().log, load: () => (fds) => fds.map(() => state.now) });
      const [peerSide, peerClient] = await pair();
      const end = ended();
      splice(plainLeg(peerSide), stuckLeg(), { idleTimeoutMs: HOUR, clock, sweep, onEnd: end.onEnd });
      peerClient.write(Buffer.alloc(64 * 1024));
      for (let i = 0; i < 200 && sweep.size === 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(sweep.size).toBe(1);
      expect(socketFd(peerSide)).toBeGreaterThan(0);
      return { clock, end, peerSide };
    };

    it('closes it soon after its peer shut its side, not at the idle timeout', async () => {
      const state: { now: PeerState } = { now: undefined };
      const { clock, end, peerSide } = await pausedPeer(state);
      await clock.advance(PAUSED_AFTER_FIN_MS * 2);
      expect(peerSide.destroyed).toBe(false); // refused path: a peer still there keeps its stalled connection
      state.now = 'fin';
      await clock.advance(SWEEP_INTERVAL_MS);
      await clock.advance(PAUSED_AFTER_FIN_MS * 1.25);
      expect((await end.promise).idle).toBe(true);
    });

    it('resets it at once when its peer reset it', async () => {
      const state: { now: PeerState } = { now: undefined };
      const { clock, end } = await pausedPeer(state);
      state.now = 'gone';
      await clock.advance(SWEEP_INTERVAL_MS);
      expect((await end.promise).error?.message).toContain('the peer left while its connection was paused');
    });
  });
});
