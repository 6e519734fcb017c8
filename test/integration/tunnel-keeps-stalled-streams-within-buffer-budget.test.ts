// What a tunnel connection buffers for streams whose app stopped reading stays within its budget. Node's http2 gives
// connection window back as data reaches JavaScript, so a full stream window per stalled stream would be buffered:
// as streams open, the inbound shrinks the stream window it advertises (SETTINGS) to fit the budget, and grows it
// back when they close. A lone stream keeps the full window for bulk. Real TLS and HTTP/2 on 127.0.0.1.
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOf, startMesh, tcpServer, until } from '../helpers/datapath.js';

const MiB = 1024 * 1024;
const KiB = 1024;

describe('tunnel: stalled streams stay within the connection buffer budget', () => {
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  const held: net.Socket[] = [];
  beforeAll(async () => {
    // An app that accepts and never reads.
    app = await tcpServer((s) => { s.pause(); s.on('error', () => {}); held.push(s); });
    mesh = await startMesh({ app, tunnelLimits: { streamWindow: 1 * MiB, connectionBuffer: 4 * MiB } });
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await mesh?.close();
    await app?.close();
  });

  it('advertises the full window to one stream, shrinks it as stalled streams pile up, and grows it back', async () => {
    const port = portOf(mesh.inbound.address);
    const leaf = mesh.web.svid();
    const s = http2.connect(`https://127.0.0.1:${port}`, { key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    s.on('error', () => {});
    await new Promise((r) => s.once('remoteSettings', r));
    expect(s.remoteSettings.initialWindowSize).toBe(1 * MiB); // allowed: a lone stream gets the configured window

    const open = (n: number) => Promise.all(Array.from({ length: n }, async () => {
      const req = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` }, { endStream: false });
      req.on('error', () => {});
      await new Promise((r) => req.once('response', r));
      // An endless sender that respects backpressure, as the outbound's pipe does; the app reads none of it.
      const chunk = Buffer.alloc(64 * KiB);
      const pump = (): void => {
        while (!req.destroyed && req.write(chunk));
        if (!req.destroyed) req.once('drain', pump);
      };
      pump();
      return req;
    }));
    const first = await open(1);
    expect(s.remoteSettings.initialWindowSize).toBe(1 * MiB);

    // Refused path: 16 stalled streams × 1 MiB would be 16 MiB; the budget is 4 MiB, so each gets 256 KiB.
    const more = await open(15);
    await until(() => s.remoteSettings.initialWindowSize === 256 * KiB);

    // Closing them lets the window grow back, once the rest fit twice over.
    for (const r of more) r.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => s.remoteSettings.initialWindowSize === 1 * MiB);
    for (const r of first) r.close(http2.constants.NGHTTP2_CANCEL);
    s.close();
  });
});
