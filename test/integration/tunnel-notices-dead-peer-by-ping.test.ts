// A peer that stops answering without closing anything (a partition, a frozen host) is noticed by HTTP/2 keepalive
// pings: web's pool pings every pingIntervalMs and, when a ping goes unanswered for pingTimeoutMs, ends the tunnel
// connection and resets the app connections on it; the next app connection opens a new one. A peer that answers is
// kept. Web's timers run on a manual clock; the relay between the sidecars is what goes silent.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/fake-clock.js';
import { connect, echoApp, readAllOrReset, startMesh, tcpServer, until } from '../helpers/datapath.js';

const PING_MS = 1_000;
const PING_TIMEOUT_MS = 500;

describe('tunnel keepalive', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let relay: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  const clock = new FakeClock(Date.now());
  let target = 0;
  let frozen = false;
  beforeAll(async () => {
    app = await echoApp();
    // Forwards bytes both ways; once frozen, connections open at that moment swallow everything (no FIN, no RST).
    relay = await tcpServer((a) => {
      const b = net.connect(target, '127.0.0.1');
      const silent = { now: false };
      const pass = (from: net.Socket, to: net.Socket) => from.on('data', (d: Buffer) => { if (frozen) silent.now = true; if (!silent.now) to.write(d); });
      pass(a, b);
      pass(b, a);
      for (const s of [a, b]) s.on('error', () => {});
      a.on('close', () => b.destroy());
      b.on('close', () => a.destroy());
    });
    // The relay changes the port, as a NAT or a Service would: the inbound is named after the host web dials, so that
    // the streams' :authority (127.0.0.1:<relay port>) names it (docs/datapath.md "Tunnels").
    mesh = await startMesh({
      app, inbound: { name: '127.0.0.1' }, outbound: { upstream: `127.0.0.1:${relay.port}` }, clientClock: clock,
      tunnelLimits: { pingIntervalMs: PING_MS, pingTimeoutMs: PING_TIMEOUT_MS },
    });
    target = Number(mesh.inbound.address.split(':').pop());
  });
  afterAll(async () => {
    await mesh?.close();
    await relay?.close();
    await app?.close();
  });

  const roundTrip = async (text: string) => {
    const s = await connect(Number(mesh.outbound.address.split(':').pop()));
    const r = readAllOrReset(s);
    s.end(text);
    return r;
  };
  const pool = () => mesh.client.tunnelPools()[0]!;

  it('keeps a peer that answers, and closes the connection to one that went silent', async () => {
    expect((await roundTrip('hello')).data.toString()).toBe('hello');
    // An answered ping: the next one is scheduled, the connection stays.
    await clock.advance(PING_MS);
    await until(() => clock.pendingTimers().includes(PING_MS), 5_000);
    await clock.advance(PING_TIMEOUT_MS);
    expect(pool()).toMatchObject({ connections: 1 });

    const held = await connect(Number(mesh.outbound.address.split(':').pop()));
    const heldReply = readAllOrReset(held);
    held.write('ping?');
    await new Promise((r) => held.once('data', r));
    frozen = true;
    await clock.advance(PING_MS + PING_TIMEOUT_MS);
    const { error } = await heldReply;
    expect(error?.code).toBe('ECONNRESET');
    await until(() => pool().connections === 0);
    const line = await mesh.client.logs.waitFor((l) => l.msg === 'tunnel peer did not answer a ping: closing the connection');
    expect(line).toMatchObject({ level: 'warn', upstream: `127.0.0.1:${relay.port}`, timeoutMs: PING_TIMEOUT_MS });

    frozen = false;
    expect((await roundTrip('after')).data.toString()).toBe('after');
    expect(pool()).toMatchObject({ connections: 1, streamsTotal: 3 });
  });
});
