// What an app that stops reading can make the sidecar pin in the kernel is bounded, as user space already was: the
// sidecar's sockets to its apps get small fixed buffers (SO_SNDBUF/SO_RCVBUF), so one tunnel connection of 128 streams
// into an app that reads nothing holds at most tens of MiB of socket memory, not 4 MiB of autotuned send buffer per
// stream. Measured with `ss -tm` over the sidecar's own sockets (the tunnel's, and the app sockets it dialled).
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { inboundForSuite, makeLeaf, WEB } from '../helpers/datapath.js';
import { socketMemory } from '../helpers/socket-memory.js';

const STREAMS = 128;
const MiB = 1024 * 1024;
const BOUND = 64 * MiB;

describe('tunnel: kernel memory of streams whose app stopped reading', () => {
  const held: net.Socket[] = [];
  // An app that accepts and never reads.
  const t = inboundForSuite({ onConn: (s) => { s.pause(); held.push(s); } });
  afterAll(() => { for (const s of held) s.destroy(); });

  it(`one connection of ${STREAMS} stalled streams pins at most 64 MiB of the sidecar's socket memory`, async () => {
    const { port } = t;
    const leaf = makeLeaf(t.ca, WEB);
    const s = http2.connect(`https://127.0.0.1:${port}`, { key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    s.on('error', () => {});
    const chunk = Buffer.alloc(64 * 1024);
    let lastDrainMs = Date.now();
    for (let i = 0; i < STREAMS; i++) {
      const req = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` }, { endStream: false });
      req.on('error', () => {});
      const pump = (): void => {
        lastDrainMs = Date.now();
        while (!req.destroyed && req.write(chunk));
        if (!req.destroyed) req.once('drain', pump);
      };
      req.once('response', pump);
    }
    // The sidecar's sockets: the tunnel's server side, and every socket it dialled to the app.
    const sidecar = () => socketMemory(`( sport = :${port} or dport = :${t.appPort} )`);
    // Pushed until every stream stalls: no stream has drained for a while and the kernel's count stops moving (or it
    // passed the bound already).
    let before = await sidecar();
    for (const started = Date.now(); Date.now() - started < 60_000;) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await sidecar();
      const settled = now.bytes === before.bytes && Date.now() - lastDrainMs > 1_000;
      before = now;
      if (settled || now.bytes > BOUND) break;
    }
    console.log(`${STREAMS} stalled streams: ${before.sockets} sidecar sockets pin ${(before.bytes / MiB).toFixed(1)} MiB, the largest ${(before.largest / 1024).toFixed(0)} KiB`);
    expect(before.sockets).toBeGreaterThan(STREAMS);
    expect(before.bytes).toBeLessThanOrEqual(BOUND);
    s.destroy();
  });
});
