// Every way a tunnel connection ends is counted once, with its own reason, in ztmesh_tunnel_connections_closed_total
// (session-guard.ts TUNNEL_END_REASONS); protocol_error, ping_timeout and close_timeout have tests of their own. Here:
// - inbound, against a raw HTTP/2 client over mTLS: the peer's GOAWAY (peer_goaway) apart from a peer that only
//   closes TCP (peer_closed); a connection without streams for 5 × idleMs (idle, not a moment before); the listener's
//   drain (drain, once the open stream has finished, which it may);
// - outbound, a pool's connection before a real inbound: idleMs without streams (idle), and a new SVID (drain, once
//   the open stream has finished), each seen by the inbound as the peer's GOAWAY.
// Both ends' clocks are manual where a timer decides; pings are far apart (they are not what is tested here).
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/fake-clock.js';
import { connect, echoMeshForSuite, inboundForSuite, makeLeaf, metric, NEVER_HAND_OFF, portOf, readAll, until, WEB } from '../helpers/datapath.js';
import { FLAG, FRAME, frame, goawayFrame, RawH2Client } from '../helpers/h2-framer.js';
import { untilValue } from '../helpers/until.js';

const IDLE_MS = 60_000;
const FAR = 3_600_000;
const CLOSED = 'ztmesh_tunnel_connections_closed_total';

describe('tunnel end reasons: inbound', () => {
  const clock = new FakeClock(Date.now());
  const t = inboundForSuite({
    onConn: (s) => s.pipe(s), clock, tunnelLimits: { idleMs: IDLE_MS, pingIntervalMs: FAR }, inbound: { idleTimeout: '1h' },
  });
  const clients: RawH2Client[] = [];
  afterAll(() => { for (const c of clients) c.destroy(); });
  const closedBy = (reason: string) => metric(t.dp.registry, CLOSED, { direction: 'inbound', reason });
  const open = () => t.inbound.handler.tunnels!.counts.connections;
  const client = async () => {
    const leaf = makeLeaf(t.ca, WEB);
    const c = await RawH2Client.connect({ port: t.port, key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem });
    clients.push(c);
    await c.waitFor((f) => f.type === FRAME.SETTINGS);
    return c;
  };

  it('counts a peer that says GOAWAY as peer_goaway, and one that only closes TCP as peer_closed', async () => {
    const polite = await client();
    polite.send(goawayFrame(0, 0));
    await until(() => open() === 0);
    expect([await closedBy('peer_goaway'), await closedBy('peer_closed')]).toEqual([1, 0]);

    const abrupt = await client();
    abrupt.end(); // FIN, no GOAWAY
    await until(() => open() === 0);
    const gone = await client();
    gone.destroy(); // the same, as a process that exits
    await until(() => open() === 0);
    expect([await closedBy('peer_goaway'), await closedBy('peer_closed')]).toEqual([1, 2]);
  });

  it(`counts a connection without streams for 5 × idleMs as idle, and keeps it until then`, async () => {
    const c = await client();
    await clock.advance(5 * IDLE_MS - 1);
    expect(open()).toBe(1);
    expect(c.goawayCode()).toBeUndefined();
    await clock.advance(1);
    await c.until(() => c.goawayCode() !== undefined);
    expect(c.goawayCode()).toBe(0);
    await until(() => open() === 0);
    expect(await closedBy('idle')).toBe(1);
    expect(await closedBy('peer_closed')).toBe(2); // the peer's close after our GOAWAY is not counted again
  });

  // Last of this listener's tests: a drained listener takes no new tunnel connections.
  it('counts a drained connection as drain once its open stream has finished, which it may', async () => {
    const c = await client();
    const id = c.connectStream(`127.0.0.1:${t.port}`);
    await c.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);
    t.inbound.handler.tunnels!.drain();
    await c.until(() => c.goawayCode() !== undefined);
    expect(c.goawayCode()).toBe(0);
    // The open stream goes on: what it sends comes back from the app.
    c.send(frame(FRAME.DATA, 0, id, Buffer.from('still here')));
    await c.until(() => c.frames.some((f) => f.type === FRAME.DATA && f.streamId === id && f.payload.toString() === 'still here'));
    expect(open()).toBe(1);
    expect(await closedBy('drain')).toBe(0);
    c.send(frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('bye')));
    await until(() => open() === 0);
    expect(await closedBy('drain')).toBe(1);
  });
});

describe('tunnel end reasons: outbound', () => {
  const clock = new FakeClock(Date.now());
  const m = echoMeshForSuite({ clientClock: clock, tunnelLimits: { idleMs: IDLE_MS, pingIntervalMs: FAR }, handoffPolicy: NEVER_HAND_OFF });
  const closedBy = async (reason: string) => [
    await metric(m.client.registry, CLOSED, { direction: 'outbound', reason }),
    await metric(m.server.registry, CLOSED, { direction: 'inbound', reason: 'peer_goaway' }),
  ];
  const open = async () => Math.max(
    await metric(m.client.registry, 'ztmesh_tunnel_connections', { direction: 'outbound' }),
    await metric(m.server.registry, 'ztmesh_tunnel_connections', { direction: 'inbound' }),
  );
  const streamsActive = () => m.client.tunnels.statuses(() => 'tunnel').reduce((n, p) => n + p.streamsActive, 0);
  let app: net.Socket | undefined;
  afterAll(() => app?.destroy());

  /** An app connection through the outbound, its stream open; `echo` sends a line and waits for it to come back. */
  const appConnection = async () => {
    const s = await connect(portOf(m.outbound.address));
    app = s;
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    const echo = async (text: string) => {
      got = '';
      s.write(text);
      await until(() => got === text);
    };
    await echo('hello');
    return { s, echo };
  };

  it('counts a pool connection idle for idleMs as idle (the inbound sees its GOAWAY), and keeps it until then', async () => {
    const { s } = await appConnection();
    const done = readAll(s);
    s.end();
    await done;
    await until(() => streamsActive() === 0); // its idle time starts now
    await clock.advance(IDLE_MS - 1);
    expect(await open()).toBe(1);
    await clock.advance(1);
    await untilValue(open, (n) => n === 0, 5_000, 10);
    expect(await closedBy('idle')).toEqual([1, 1]);
  });

  it('counts a connection drained on a new SVID as drain once its open stream has finished, which it may', async () => {
    const { s, echo } = await appConnection();
    m.web.rotate();
    await m.client.logs.waitFor((l) => l.msg === 'tunnel connection draining' && l.why === 'drain');
    // The connection takes no new streams; this one goes on, and holds the connection open.
    await echo('after rotation');
    expect(await open()).toBe(1);
    expect(await closedBy('drain')).toEqual([0, 1]);
    const done = readAll(s);
    s.end();
    await done;
    await untilValue(open, (n) => n === 0, 5_000, 10);
    expect(await closedBy('drain')).toEqual([1, 2]);
  });
});
