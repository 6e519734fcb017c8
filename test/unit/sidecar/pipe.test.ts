// splice() over real sockets and a real HTTP/2 session (h2c on 127.0.0.1): its idle check runs on the injected clock
// and leaves no timer behind, a tunnel stream destroyed with its connection is collected at once (node 20's own
// stream timer kept it, with what it buffered, for the whole idle timeout), and a reset stream drops its data.
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/common/clock.js';
import { socketFd } from '../../../src/common/node-internals.js';
import type { PeerState } from '../../../src/common/socket-poll.js';
import { LivenessSweep, SWEEP_INTERVAL_MS } from '../../../src/sidecar/liveness-sweep.js';
import { PAUSED_AFTER_FIN_MS, plainLeg, splice, type Leg, type SpliceEnd } from '../../../src/sidecar/pipe.js';
import { LogCapture, socketPair } from '../../helpers/datapath.js';
import { FakeClock } from '../../helpers/fake-clock.js';

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
