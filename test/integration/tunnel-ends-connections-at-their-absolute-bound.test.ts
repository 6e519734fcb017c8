// A tunnel connection cannot live for ever, even with streams open: at maxAgeMs the inbound stops taking streams on
// it (GOAWAY) and the open ones go on, and closeGraceMs later whatever is still open is reset and the connection ended
// (`close_timeout`). The inbound's clock is a manual one; a raw HTTP/2 client over mTLS holds one stream open.
import { afterAll, describe, expect, it } from 'vitest';
import { FORCE_CLOSE_MS } from '../../src/sidecar/tunnel/session-guard.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { inboundForSuite, makeLeaf, metric, until, WEB } from '../helpers/datapath.js';
import { FRAME, RawH2Client } from '../helpers/h2-framer.js';

const MAX_AGE_MS = 60_000;
const CLOSE_GRACE_MS = 30_000;

describe('tunnel: the absolute bound of a connection', () => {
  const clock = new FakeClock(Date.now());
  // Pings far apart: this peer answers them, and they are not what is tested here.
  const t = inboundForSuite({
    onConn: (s) => s.pipe(s), clock, tunnelLimits: { maxAgeMs: MAX_AGE_MS, closeGraceMs: CLOSE_GRACE_MS, pingIntervalMs: 3_600_000 }, inbound: { idleTimeout: '1h' },
  });
  let c: RawH2Client | undefined;
  afterAll(() => c?.destroy());

  it('stops taking streams at maxAgeMs, and resets those still open closeGraceMs later', async () => {
    const leaf = makeLeaf(t.ca, WEB);
    const port = t.port;
    c = await RawH2Client.connect({ port, key: leaf.keyPem, cert: leaf.certPem, ca: t.ca.certPem });
    await c.waitFor((f) => f.type === FRAME.SETTINGS);
    const id = c.connectStream(`127.0.0.1:${port}`);
    await c.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);

    await clock.advance(MAX_AGE_MS);
    await c.until(() => c!.goawayCode() !== undefined);
    expect(c.goawayCode()).toBe(0);
    await clock.advance(CLOSE_GRACE_MS - 1_000);
    expect(t.inbound.handler.tunnels!.counts).toMatchObject({ connections: 1, streamsActive: 1 }); // refused path: within the grace
    await clock.advance(1_000 + FORCE_CLOSE_MS);
    await until(() => t.inbound.handler.tunnels!.counts.connections === 0 && t.inbound.handler.tunnels!.counts.streamsActive === 0);
    expect(await metric(t.dp.registry, 'ztmesh_tunnel_connections_closed_total', { direction: 'inbound', reason: 'close_timeout' })).toBe(1);
    expect(t.dp.logs.lines.find((l) => l.msg === 'tunnel connection ended: close_timeout')).toMatchObject({ level: 'warn', peerId: WEB });
  });
});
