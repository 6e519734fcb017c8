// The sidecar's own sockets to and from its apps keep small kernel buffers (SO_SNDBUF/SO_RCVBUF, app-buffers.ts) on
// every path, not only the tunnel's: the socket an explicit outbound listener accepted from its app, and the socket
// an inbound dialled to its app for a raw (non-tunnel) mTLS connection. Both apps here write without pause and never
// read, so both directions stall; `ss -tm` then shows each of those sidecar sockets holding at most what its two
// buffers allow, where autotuning would let it grow to several MiB. Once the apps read again, every byte arrives.
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_SOCKET_BUFFER_BYTES } from '../../src/sidecar/app-buffers.js';
import { connect, portOf, startMesh, tcpServer } from '../helpers/datapath.js';
import { socketMemory, type SocketMemory } from '../helpers/socket-memory.js';
import { suiteFixture } from '../helpers/suite-fixture.js';
import { untilValue } from '../helpers/until.js';

const KiB = 1024;
/**
 * One app socket: Linux doubles each buffer asked for (SO_SNDBUF and SO_RCVBUF, 128 KiB each, so 256 KiB each), and
 * the send queue may pass its buffer by one segment in flight. Autotuned, one socket of a stalled pair holds MiBs.
 */
const PER_SOCKET_BOUND = 4 * APP_SOCKET_BUFFER_BYTES + 256 * KiB;
const CHUNK = Buffer.alloc(64 * KiB, 0x61);

/** Writes CHUNKs to `s` as fast as it takes them, until stop(); counts what it wrote and when it last made progress. */
function pump(s: net.Socket) {
  const state = { written: 0, lastProgressMs: Date.now(), stopped: false, blocked: false };
  const go = (): void => {
    state.lastProgressMs = Date.now();
    state.blocked = false;
    while (!state.stopped && !s.destroyed) {
      state.written += CHUNK.length;
      if (!s.write(CHUNK)) {
        state.blocked = true;
        s.once('drain', go);
        return;
      }
    }
  };
  go();
  return Object.assign(state, { stop: () => { state.stopped = true; } });
}

/** Resumes reading `s` and counts the bytes until EOF. */
function readToEnd(s: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.once('end', () => resolve(n));
    s.once('error', reject);
    s.resume();
  });
}

describe('kernel memory of the sidecar\'s app sockets when the apps stop reading', () => {
  const appSockets: { socket: net.Socket; pump: ReturnType<typeof pump> }[] = [];
  // The upstream's app: accepts, never reads, and writes for as long as it can.
  const t = suiteFixture('mesh over raw mTLS', async () => {
    const app = await tcpServer((s) => {
      s.on('error', () => {});
      s.pause();
      appSockets.push({ socket: s, pump: pump(s) });
    });
    const mesh = await startMesh({ app, outbound: { tunnel: 'off' } });
    return { app, mesh, outboundPort: portOf(mesh.outbound.address), close: async () => { await mesh.close(); await app.close(); } };
  }, (x) => x.close());
  let client: net.Socket | undefined;
  afterAll(() => client?.destroy());

  it('holds each sidecar socket to an app within its fixed buffers, and every byte arrives once the apps read', async () => {
    const { outboundPort, app } = t;
    client = await connect(outboundPort);
    client.on('error', () => {});
    client.pause();
    const fromClient = pump(client);
    const upstream = await untilValue(async () => appSockets[0], (s) => s !== undefined, 5_000, 10);

    // The sidecar's two app sockets: the one the outbound accepted (local port: the listener's) and the one the
    // inbound dialled for the raw mTLS connection (remote port: the app's).
    const measure = async (): Promise<{ accepted: SocketMemory; dialled: SocketMemory }> => ({
      accepted: await socketMemory(`( sport = :${outboundPort} and dport > :0 )`), // not the listening socket
      dialled: await socketMemory(`( dport = :${app.port} )`),
    });
    // Stalled: both writers have been blocked for a while, and the kernel's count no longer moves.
    let last = '';
    const stalled = await untilValue(measure, (m) => {
      const now = JSON.stringify(m);
      const quiet = [fromClient, upstream.pump].every((p) => p.blocked && Date.now() - p.lastProgressMs > 300);
      const same = now === last;
      last = now;
      return quiet && same;
    }, 10_000, 100);
    console.log(`stalled: outbound's accepted app socket ${(stalled.accepted.largest / KiB).toFixed(0)} KiB, inbound's dialled app socket ${(stalled.dialled.largest / KiB).toFixed(0)} KiB`);
    for (const m of [stalled.accepted, stalled.dialled]) {
      expect(m.sockets).toBe(1);
      // Something is held (the apps stopped reading, so the sidecar's sends queue up)...
      expect(m.sendQueued).toBeGreaterThan(0);
      // ...but no more than the socket's own buffers.
      expect(m.largest).toBeLessThanOrEqual(PER_SOCKET_BOUND);
    }

    // The allowed path: nothing was lost to the bound. Both stop writing and end; each reads what the other wrote.
    fromClient.stop();
    upstream.pump.stop();
    client.end();
    upstream.socket.end();
    const [atClient, atApp] = await Promise.all([readToEnd(client), readToEnd(upstream.socket)]);
    expect(atClient).toBe(upstream.pump.written);
    expect(atApp).toBe(fromClient.written);
  });
});
