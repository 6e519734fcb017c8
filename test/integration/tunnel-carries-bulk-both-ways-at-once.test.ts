// App connections that send and receive bulk at once, many on one tunnel connection, all arrive whole, however small
// the kernel buffers between the sidecars. Node's HTTP/2 stops reading its socket while one of its writes is in
// progress: with more in flight both ways than those buffers hold, each end used to wait for the other to read, until
// the 5 s ping timeout reset every stream (seen as a rare ECONNRESET among 200 connections on a loaded host). Each end
// now advertises a connection window that its own socket's receive buffer holds, so its peer's writes always
// complete. Here web's tunnel socket gets 16 KiB buffers as it connects, which made the stall certain; no stream is
// handed off to a connection of its own, so that all of them stay on the tunnel.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSizes, setBufferSizes } from '../../src/common/socket-buffers.js';
import { DEFAULT_TUNNEL_LIMITS } from '../../src/sidecar/tunnel/protocol.js';
import { connectionWindowFor, receiveBufferFor } from '../../src/sidecar/tunnel/receive-window.js';
import { connect, echoApp, metric, NEVER_HAND_OFF, portOf, readAllOrReset, startMesh, until } from '../helpers/datapath.js';
import { payload, sha256 } from '../helpers/tunnel.js';

const SMALL = 16 * 1024;
const CONNECTIONS = 8;
const BYTES = 1024 * 1024;

describe('tunnel: bulk both ways at once', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  const tunnelSockets: net.Socket[] = [];
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app, handoffPolicy: NEVER_HAND_OFF });
    // Before the pool sizes the receive buffer (once TLS is up), as a host with tight buffers would have them.
    mesh.client.dialer.watchSockets((raw) => raw.once('connect', () => {
      setBufferSizes(raw, { send: SMALL, receive: SMALL });
      tunnelSockets.push(raw);
    }));
  });
  afterAll(async () => {
    await mesh?.close();
    await app?.close();
  });

  it('delivers every byte both ways on one connection, with no ping timeout', async () => {
    const port = portOf(mesh.outbound.address);
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      const sent = payload(BYTES);
      const s = await connect(port);
      const reply = readAllOrReset(s);
      s.end(sent);
      const { data, error } = await reply;
      return { error: error?.code, sent: sha256(sent), received: sha256(data) };
    }));
    for (const r of results) expect(r).toEqual({ error: undefined, sent: r.sent, received: r.sent });
    expect(mesh.client.tunnelPools()[0]).toMatchObject({ connections: 1, streamsTotal: CONNECTIONS, streamsActive: 0 });
    for (const [dp, direction] of [[mesh.client, 'outbound'], [mesh.server, 'inbound']] as const) {
      expect(await metric(dp.registry, 'ztmesh_tunnel_connections_closed_total', { direction, reason: 'ping_timeout' })).toBe(0);
    }
    // The pool sized the receive buffer past what it was given; the send buffer stays as it was.
    expect(tunnelSockets).toHaveLength(1);
    const sizes = bufferSizes(tunnelSockets[0]!);
    expect(sizes.send).toBe(2 * SMALL);
    expect(sizes.receive).toBeGreaterThan(2 * SMALL);
  });

  it('the inbound lets a peer have in flight no more than its receive buffer holds (net.core.rmem_max caps it)', async () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const configured = DEFAULT_TUNNEL_LIMITS.connectionWindow;
    const granted = 2 * Math.min(receiveBufferFor(configured), rmemMax);
    const leaf = mesh.web.svid();
    const s = http2.connect(`https://127.0.0.1:${portOf(mesh.inbound.address)}`, {
      key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined,
    });
    s.on('error', () => {});
    try {
      await until(() => (s.state.remoteWindowSize ?? 0) > 65_535);
      expect(s.state.remoteWindowSize).toBe(connectionWindowFor(granted, configured));
      expect(s.state.remoteWindowSize).toBeLessThanOrEqual(granted / 2);
    } finally {
      s.destroy();
    }
  });
});
