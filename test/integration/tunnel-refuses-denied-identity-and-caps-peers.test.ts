// Policy before resources on the tunnel port: an identity the listener's policy refuses gets no HTTP/2 session at all
// (refused at its handshake, as raw mTLS is, and logged naming it), so its idle connections cannot fill the listener;
// an allowed peer holds a bounded number of tunnel connections, per SPIFFE ID and per source address; and refused
// streams do not keep a connection open past its idle close. Raw HTTP/2 clients over mTLS; the inbound's clock is a
// manual one.
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/fake-clock.js';
import { inboundForSuite, makeLeaf, metric, TD, until, WEB } from '../helpers/datapath.js';
import { FRAME, RawH2Client } from '../helpers/h2-framer.js';

const WEB2 = `spiffe://${TD}/ns/default/sa/web2`;
const DENIED = `spiffe://${TD}/ns/default/sa/intruder`;
const MAX_CONNECTIONS = 20;
const PER_PEER_ID = 3;
const PER_SOURCE = 4;
const IDLE_MS = 1_000;

describe('tunnel port: denied identities, bounded peers, refused streams', () => {
  const clock = new FakeClock(Date.now());
  const t = inboundForSuite({
    onConn: (s) => s.pipe(s), clock, tunnelLimits: { maxConnectionsPerPeerId: PER_PEER_ID, maxConnectionsPerSource: PER_SOURCE, idleMs: IDLE_MS },
    inbound: { allow: [WEB, WEB2], maxConnections: MAX_CONNECTIONS },
  });
  const open: RawH2Client[] = [];
  afterAll(() => { for (const c of open) c.destroy(); });

  /** A tunnel client as `id`; resolves once TLS is up (TLS 1.3: before the inbound has judged the certificate). */
  const client = async (id: string, localAddress?: string) => {
    const leaf = makeLeaf(t.ca, id);
    const c = await RawH2Client.connect({ port: t.port, key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem, ...(localAddress ? { localAddress } : {}) });
    open.push(c);
    return c;
  };
  /** Whether the inbound gave `c` a session (its SETTINGS came) or closed it. */
  const outcome = async (c: RawH2Client) => {
    await c.until(() => c.closed || c.frames.some((f) => f.type === FRAME.SETTINGS), 5_000);
    return c.closed ? 'closed' : 'session';
  };
  const tunnels = () => t.inbound.handler.tunnels!.counts;
  const refusals = (reason: string) => t.dp.logs.refusals().filter((l) => l.reason === reason);

  it('refuses a denied identity\'s tunnel connections at the handshake, names it, and keeps serving an allowed peer', async () => {
    const denied = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => client(DENIED)));
    expect(await Promise.all(denied.map(outcome))).toEqual(denied.map(() => 'closed'));
    expect(tunnels().connections).toBe(0);
    expect(refusals('spiffe_id_denied')[0]).toMatchObject({ level: 'warn', peerId: DENIED, peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(await metric(t.dp.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'spiffe_id_denied' })).toBe(MAX_CONNECTIONS);

    const allowed = await client(WEB);
    expect(await outcome(allowed)).toBe('session');
    const id = allowed.connectStream(`127.0.0.1:${t.port}`);
    await allowed.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);
    allowed.destroy();
    await until(() => tunnels().connections === 0);
  });

  it(`holds at most ${PER_PEER_ID} tunnel connections per SPIFFE ID and ${PER_SOURCE} per source address`, async () => {
    const webs = await Promise.all(Array.from({ length: PER_PEER_ID }, () => client(WEB)));
    expect(await Promise.all(webs.map(outcome))).toEqual(webs.map(() => 'session'));
    expect(await outcome(await client(WEB))).toBe('closed');
    expect(refusals('tunnel_connection_limit').at(-1)).toMatchObject({ peerId: WEB, detail: `${PER_PEER_ID} tunnel connections from ${WEB}` });

    expect(await outcome(await client(WEB2))).toBe('session'); // the fourth from 127.0.0.1
    expect(await outcome(await client(WEB2))).toBe('closed');
    expect(refusals('tunnel_connection_limit').at(-1)).toMatchObject({ peerId: WEB2, detail: `${PER_SOURCE} tunnel connections from 127.0.0.1` });
    expect(await outcome(await client(WEB2, '127.0.0.2'))).toBe('session'); // another source
    expect(await metric(t.dp.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'tunnel_connection_limit' })).toBe(2);
    for (const c of open.splice(0)) c.destroy();
    await until(() => tunnels().connections === 0);
  });

  it('closes a connection after its idle time however many refused streams it keeps opening', async () => {
    const c = await client(WEB);
    expect(await outcome(c)).toBe('session');
    // A refused stream every 2 s; the inbound closes a connection without forwarded streams after idleMs × 5 = 5 s.
    for (let i = 0; i < 2; i++) {
      await clock.advance(2 * IDLE_MS);
      const id = c.connectStream('10.9.9.9:22');
      await c.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === id);
    }
    expect(refusals('target_not_allowed')).toHaveLength(2);
    await clock.advance(2 * IDLE_MS);
    await c.until(() => c.goawayCode() !== undefined, 5_000);
    expect(c.goawayCode()).toBe(0);
  });
});
