// A peer that leaves while the sidecar is not reading its connection is noticed all the same. A raw mTLS connection
// paused by backpressure (its app stopped reading) is reset once its peer resets it, not at the 1 h idle timeout; a
// paused connection whose peer stays is kept (a FIN behind unread bytes: test/unit/sidecar/pipe.test.ts). A tunnel
// peer that stops reading loses its session to an unanswered PING. The inbound's clock is a manual one: the sweep, the idle checks and the
// pings run when the test advances it.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { PAUSED_AFTER_FIN_MS } from '../../src/sidecar/pipe.js';
import { SWEEP_INTERVAL_MS } from '../../src/sidecar/liveness-sweep.js';
import { DEFAULT_TUNNEL_LIMITS } from '../../src/sidecar/tunnel/protocol.js';
import { FORCE_CLOSE_MS } from '../../src/sidecar/tunnel/session-guard.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { inboundForSuite, makeLeaf, metric, until, WEB } from '../helpers/datapath.js';
import { FRAME, RawH2Client } from '../helpers/h2-framer.js';

describe('the data path notices peers that leave while it is not reading them', () => {
  const clock = new FakeClock(Date.now());
  // An app that reads nothing.
  const t = inboundForSuite({ onConn: (s) => s.pause(), clock, inbound: { idleTimeout: '1h' } });
  const clients: net.Socket[] = [];
  afterAll(() => { for (const c of clients) c.destroy(); });

  /** A raw mTLS client that writes until the inbound pauses its connection (the app takes no more). */
  const pausedClient = async () => {
    const leaf = makeLeaf(t.ca, WEB);
    const raw = net.connect({ host: '127.0.0.1', port: t.port });
    raw.on('error', () => {});
    clients.push(raw);
    const s = tls.connect({ socket: raw, key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    s.on('error', () => {});
    await new Promise((r) => s.once('secureConnect', r));
    const watched = t.dp.sweep.size;
    const chunk = Buffer.alloc(64 * 1024);
    let pumping = true;
    const pump = (): void => {
      while (pumping && !s.destroyed && s.write(chunk));
      if (pumping && !s.destroyed) s.once('drain', pump);
    };
    pump();
    // The sweep watches a leg exactly while it is paused.
    await until(() => t.dp.sweep.size > watched, 10_000);
    pumping = false;
    return { raw, tls: s };
  };
  const active = () => t.inbound.reporter.counters.connectionsActive;

  it('resets a paused connection once its peer resets it', async () => {
    const { raw } = await pausedClient();
    expect(active()).toBe(1);
    raw.resetAndDestroy();
    await clock.advance(SWEEP_INTERVAL_MS);
    await until(() => active() === 0 && t.dp.connections.size === 0);
  });

  it('keeps a paused connection whose peer is still there, however long the app does not read', async () => {
    const stays = await pausedClient();
    await clock.advance(SWEEP_INTERVAL_MS);
    await clock.advance(PAUSED_AFTER_FIN_MS * 2);
    expect(stays.tls.destroyed).toBe(false);
    expect(active()).toBe(1);
    stays.raw.resetAndDestroy();
    await clock.advance(SWEEP_INTERVAL_MS);
    await until(() => active() === 0);
  });

  it('ends a tunnel session whose peer stopped reading when a PING goes unanswered', async () => {
    const leaf = makeLeaf(t.ca, WEB);
    const port = t.port;
    const c = await RawH2Client.connect({ port, key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem });
    clients.push(c.socket);
    await c.waitFor((f) => f.type === FRAME.SETTINGS);
    const id = c.connectStream(`127.0.0.1:${port}`);
    await c.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);
    expect(t.inbound.handler.tunnels!.counts).toMatchObject({ connections: 1, streamsActive: 1 });
    c.socket.pause(); // the peer reads nothing more, and sends nothing
    await clock.advance(DEFAULT_TUNNEL_LIMITS.pingIntervalMs);
    await clock.advance(DEFAULT_TUNNEL_LIMITS.pingTimeoutMs);
    await clock.advance(FORCE_CLOSE_MS);
    await until(() => t.inbound.handler.tunnels!.counts.connections === 0 && t.inbound.handler.tunnels!.counts.streamsActive === 0);
    expect(await metric(t.dp.registry, 'ztmesh_tunnel_connections_closed_total', { direction: 'inbound', reason: 'ping_timeout' })).toBe(1);
    expect(t.dp.logs.lines.find((l) => l.msg === 'tunnel peer did not answer a ping: closing the connection')).toMatchObject({ level: 'warn', peerId: WEB });
  });
});
