// What the inbound buffered for tunnel streams whose app stopped reading is freed once their connection closes, not
// when their idle timer (1 h) would have fired: no timer keeps a destroyed stream alive, and a reset stream drops its
// data at once. Five rounds of 128 stalled streams, each round ended by the peer closing its connection; measured
// in-process on the real data path, with V8's gc exposed to this worker (--expose-gc set at run time).
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOf, startMesh, tcpServer, until } from '../helpers/datapath.js';

const ROUNDS = 5;
const STREAMS = 128;
const MB = 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** arrayBuffers after full collections (a few turns, so that finalizers of freed native buffers have run). */
async function arrayBuffersAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().arrayBuffers;
}

describe('tunnel: buffers of streams left by a closed connection', () => {
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  /** The app's own sockets: it never reads them, so it never notices their reset either. */
  const appSockets = new Set<net.Socket>();
  beforeAll(async () => {
    app = await tcpServer((s) => {
      s.pause();
      s.on('error', () => {});
      appSockets.add(s);
    });
    mesh = await startMesh({ app });
  });
  afterAll(async () => {
    await mesh?.close();
    await app?.close();
  });

  /** One round: 128 streams pushing into the app until the inbound holds `buffered` more bytes, then the peer leaves. */
  const round = async (start: number, buffered: number) => {
    const port = portOf(mesh.inbound.address);
    const leaf = mesh.web.svid();
    // The connection is dropped under the session (no RST_STREAM first), as when the peer's process dies.
    const socket = tls.connect({
      host: '127.0.0.1', port, key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], checkServerIdentity: () => undefined,
    });
    socket.on('error', () => {});
    const s = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => socket });
    s.on('error', () => {});
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < STREAMS; i++) {
      const req = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` }, { endStream: false });
      req.on('error', () => {});
      const pump = (): void => {
        while (!req.destroyed && req.write(chunk));
        if (!req.destroyed) req.once('drain', pump);
      };
      req.once('response', pump);
    }
    await until(() => process.memoryUsage().arrayBuffers >= start + buffered, 60_000);
    socket.destroy();
    await until(() => mesh.inbound.handler.tunnels!.counts.streamsActive === 0 && mesh.inbound.handler.tunnels!.counts.connections === 0, 10_000);
    // What the app process holds is not the sidecar's: in-process, it would count here.
    for (const a of appSockets) a.destroy();
    appSockets.clear();
  };

  it(`${ROUNDS} rounds of ${STREAMS} stalled streams leave arrayBuffers within 10 MB of the start`, async () => {
    const start = await arrayBuffersAfterGc();
    const after: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await round(start, 36 * MB);
      after.push(await arrayBuffersAfterGc());
    }
    console.log(`arrayBuffers: start ${(start / MB).toFixed(1)} MB, after each round ${after.map((b) => (b / MB).toFixed(1)).join(' → ')} MB`);
    expect(after.at(-1)! - start).toBeLessThan(10 * MB);
    expect(mesh.server.connections.size).toBe(0);
  });
});
