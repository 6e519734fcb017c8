// A peer that leaves while the sidecar is not reading its connection is noticed all the same. A raw mTLS connection
// paused by backpressure (its app stopped reading) is reset once its peer resets it, not at the 1 h idle timeout; a
// paused connection whose peer stays is kept (a FIN behind unread bytes: test/unit/sidecar/pipe.test.ts). A tunnel
// peer that stops reading loses its session to an unanswered PING. The inbound's clock is a manual one: the sweep, the idle checks and the
// pings run when the test advances it.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInbound } from '../../src/sidecar/listeners.js';
import { PAUSED_AFTER_FIN_MS } from '../../src/sidecar/pipe.js';
import { SWEEP_INTERVAL_MS } from '../../src/sidecar/liveness-sweep.js';
import { DEFAULT_TUNNEL_LIMITS } from '../../src/sidecar/tunnel/protocol.js';
import { FORCE_CLOSE_MS } from '../../src/sidecar/tunnel/session-guard.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { API, inboundConfig, makeCa, makeLeaf, metric, portOf, sidecarShared, TD, tcpServer, TestIdentity, until, WEB } from '../helpers/datapath.js';
import { FRAME, RawH2Client } from '../helpers/h2-framer.js';

describe('the data path notices peers that leave while it is not reading them', () => {
  const clock = new FakeClock(Date.now());
  const ca = makeCa(TD);
  const leaf = makeLeaf(ca, WEB);
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let dp: ReturnType<typeof sidecarShared>;
  let inbound: Awaited<ReturnType<typeof startInbound>>;
  let port: number;
  const clients: net.Socket[] = [];
  beforeAll(async () => {
    // An app that reads nothing.
    app = await tcpServer((s) => { s.pause(); s.on('error', () => {}); });
    dp = sidecarShared(new TestIdentity(ca, API), { clock });
    inbound = await startInbound(inboundConfig({ forward: `127.0.0.1:${app.port}`, idleTimeout: '1h' }), dp);
    port = portOf(inbound.address);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await dp?.close();
    await app?.close();
  });

  /** A raw mTLS client that writes until the inbound pauses its connection (the app takes no more). */
  const pausedClient = async () => {
    const raw = net.connect({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    clients.push(raw);
    const t = tls.connect({ socket: raw, key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    t.on('error', () => {});
    await new Promise((r) => t.once('secureConnect', r));
    const watched = dp.sweep.size;
    const chunk = Buffer.alloc(64 * 1024);
    let pumping = true;
    const pump = (): void => {
      while (pumping && !t.destroyed && t.write(chunk));
      if (pumping && !t.destroyed) t.once('drain', pump);
    };
    pump();
    // The sweep watches a leg exactly while it is paused.
    await until(() => dp.sweep.size > watched, 10_000);
    pumping = false;
    return { raw, t };
  };
  const active = () => inbound.reporter.counters.connectionsActive;

  it('resets a paused connection once its peer resets it', async () => {
    const { raw } = await pausedClient();
    expect(active()).toBe(1);
    raw.resetAndDestroy();
    await clock.advance(SWEEP_INTERVAL_MS);
    await until(() => active() === 0 && dp.connections.size === 0);
  });

  it('keeps a paused connection whose peer is still there, however long the app does not read', async () => {
    const stays = await pausedClient();
    await clock.advance(SWEEP_INTERVAL_MS);
    await clock.advance(PAUSED_AFTER_FIN_MS * 2);
    expect(stays.t.destroyed).toBe(false);
    expect(active()).toBe(1);
    stays.raw.resetAndDestroy();
    await clock.advance(SWEEP_INTERVAL_MS);
    await until(() => active() === 0);
  });

  it('ends a tunnel session whose peer stopped reading when a PING goes unanswered', async () => {
    const c = await RawH2Client.connect({ port, key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem });
    clients.push(c.socket);
    await c.waitFor((f) => f.type === FRAME.SETTINGS);
    const id = c.connectStream(`127.0.0.1:${port}`);
    await c.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);
    expect(inbound.handler.tunnels!.counts).toMatchObject({ connections: 1, streamsActive: 1 });
    c.socket.pause(); // the peer reads nothing more, and sends nothing
    await clock.advance(DEFAULT_TUNNEL_LIMITS.pingIntervalMs);
    await clock.advance(DEFAULT_TUNNEL_LIMITS.pingTimeoutMs);
    await clock.advance(FORCE_CLOSE_MS);
    await until(() => inbound.handler.tunnels!.counts.connections === 0 && inbound.handler.tunnels!.counts.streamsActive === 0);
    expect(await metric(dp.registry, 'ztmesh_tunnel_connections_closed_total', { direction: 'inbound', reason: 'ping_timeout' })).toBe(1);
    expect(dp.logs.lines.find((l) => l.msg === 'tunnel peer did not answer a ping: closing the connection')).toMatchObject({ level: 'warn', peerId: WEB });
  });
});
