// An allowed peer whose tunnel connections end in HTTP/2 connection errors cannot lock the listener. nghttp2 answers
// such a frame with GOAWAY and stops reading, and node 20 says nothing: the inbound notices (nghttp2 wants no more
// input), destroys the session with its streams, releases their app sockets and counts the end as protocol_error.
// 12 connections of 128 streams each (past the listener's maxConnections, set to 1,000 here), each ended by a
// connection error and dropped; then a real app connection is served and the listener's counts return to 0. A raw
// HTTP/2 framer over mTLS.
import { describe, expect, it } from 'vitest';
import { connect, echoMeshForSuite, metric, portOf, readAll, until } from '../helpers/datapath.js';
import { FRAME, frame, RawH2Client, settingsFrame, u32 } from '../helpers/h2-framer.js';

/** Streams the listener carries at once (its maxConnections; 10,000 by default): a leak of streams locks it past this. */
const MAX_STREAMS = 1_000;
const CONNECTIONS = 12;
const STREAMS = 128;
/** Connections attacking at once: their streams and the last round's (released within a sweep) stay under MAX_STREAMS. */
const AT_ONCE = 2;
/** Only the liveness sweep notices a session nghttp2 ended (liveness-sweep.ts): it looks every 50 ms here, not every 1 s. */
const SWEEP_INTERVAL_MS = 50;

/** Frames nghttp2 treats as connection errors (RFC 9113 §5.4.1), each given the ID of an open stream. */
const CONNECTION_ERRORS: ((id: number) => Buffer)[] = [
  (id) => frame(FRAME.DATA, 0, id, Buffer.alloc(16_385)), // longer than SETTINGS_MAX_FRAME_SIZE
  () => frame(FRAME.PING, 0, 0, Buffer.alloc(7)), // a PING that is not 8 bytes
  () => frame(FRAME.WINDOW_UPDATE, 0, 0, u32(0)), // a zero increment of the connection window
  () => settingsFrame([[0x4, 0x80000000]]), // an initial window size past 2^31 - 1
];

describe('tunnel listener: connections ending in HTTP/2 errors', () => {
  const mesh = echoMeshForSuite({ inbound: { maxConnections: MAX_STREAMS }, sweepIntervalMs: SWEEP_INTERVAL_MS });
  const port = () => portOf(mesh.inbound.address);

  const rawClient = () => {
    const leaf = mesh.web.svid();
    return RawH2Client.connect({ port: port(), key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem });
  };
  const listener = () => mesh.server.statuses()[0]!;
  const tunnels = () => mesh.inbound.handler.tunnels!.counts;
  const closedBy = (reason: string) => metric(mesh.server.registry, 'ztmesh_tunnel_connections_closed_total', { direction: 'inbound', reason });

  it(`${CONNECTIONS} connections of ${STREAMS} streams ended by connection errors leave the listener serving, its counts back to 0`, async () => {
    const attack = async (i: number) => {
      const c = await rawClient();
      await c.waitFor((f) => f.type === FRAME.SETTINGS);
      const ids = Array.from({ length: STREAMS }, () => c.connectStream(`127.0.0.1:${port()}`));
      await c.until(() => c.answered().size === STREAMS || c.closed, 20_000);
      c.send(CONNECTION_ERRORS[i % CONNECTION_ERRORS.length]!(ids[0]!));
      await c.until(() => c.goawayCode() !== undefined || c.closed);
      c.destroy();
    };
    for (let i = 0; i < CONNECTIONS; i += AT_ONCE) await Promise.all(Array.from({ length: AT_ONCE }, (_, j) => attack(i + j)));

    const s = await connect(portOf(mesh.outbound.address));
    const reply = readAll(s);
    s.end('still served');
    expect((await reply).data.toString()).toBe('still served');
    await until(() => listener().connectionsActive === 0 && tunnels().streamsActive === 0, 5_000);
    expect(tunnels().streamsTotal).toBeGreaterThanOrEqual(CONNECTIONS * STREAMS);
    expect(CONNECTIONS * STREAMS).toBeGreaterThan(MAX_STREAMS);
    expect(await closedBy('protocol_error')).toBe(CONNECTIONS);
  });

  it('closes a connection that ended in a protocol error with no stream open, without waiting for its idle time', async () => {
    const before = await closedBy('protocol_error');
    const c = await rawClient();
    await c.waitFor((f) => f.type === FRAME.SETTINGS);
    c.send(frame(FRAME.PING, 0, 0, Buffer.alloc(3)));
    await c.until(() => c.goawayCode() !== undefined);
    // The peer stays connected and silent: the inbound closes its side all the same.
    await c.until(() => c.closed, 5_000);
    expect(await closedBy('protocol_error')).toBe(before + 1);
    expect(tunnels().connections).toBe(1); // web's pooled connection, nothing else
  });
});
