// Two real sidecars: a bulk app connection (32 MiB each way) and 100 short ones to the same upstream, at once. Each
// gets its transport: the bulk stream starts on the tunnel and moves to an mTLS connection of its own (a handoff,
// counted on both sides and in /status), the short ones stay on the tunnel; every connection's bytes arrive unchanged
// both ways (sha256), the bulk one's across the handoff. A moved stream stays under the inbound's live revocation.
import { describe, expect, it } from 'vitest';
import { connect, readAllOrReset } from '../helpers/datapath.js';
import { echoRoundTrip, echoTunnelPairForSuite, payload, WEB_ID } from '../helpers/tunnel.js';

const SHORT = 100;

describe('tunnel: a bulk stream and short connections to one upstream', () => {
  const pair = echoTunnelPairForSuite();

  it('moves the bulk stream to a connection of its own, keeps the short ones on the tunnel, and loses no byte', async () => {
    const bulk = echoRoundTrip(pair.webPort, payload(32 * 1024 * 1024));
    // Small connections, some while the bulk one still rides the tunnel: none of them is worth a connection.
    const short = [];
    for (let i = 0; i < SHORT; i += 10) {
      short.push(...await Promise.all(Array.from({ length: 10 }, (_, j) => echoRoundTrip(pair.webPort, payload(1 + ((i + j) * 131) % 2048)))));
    }
    const big = await bulk;
    expect(big.error).toBeUndefined();
    expect(big.received).toBe(big.sent);
    for (const r of short) {
      expect(r.error).toBeUndefined();
      expect(r.received).toBe(r.sent);
    }
    const web = (await pair.web.get('/metrics')).text;
    expect(web).toMatch(/ztmesh_tunnel_streams_total\{direction="outbound",result="accepted"\} 101\b/);
    // One stream moved: the bulk one (at 8 MiB/s, or as a busy stream alone on its connection if a loaded machine
    // slowed its first tenth of a second); a short connection never lives a whole check interval at that rate.
    const moved = [...web.matchAll(/ztmesh_tunnel_handoffs_total\{direction="outbound",reason="(\w+)",result="moved"\} (\d+)/g)];
    expect(moved.map((m) => Number(m[2])).reduce((a, b) => a + b, 0)).toBe(1);
    expect(['bulk', 'lone']).toContain(moved[0]![1]);
    expect(web).not.toMatch(/result="(refused|failed)"/);
    const api = (await pair.api.get('/metrics')).text;
    expect(api).toMatch(/ztmesh_tunnel_handoffs_total\{direction="inbound",reason="join",result="moved"\} 1\b/);
    const [pool] = (await pair.web.status()).tunnelPools!;
    expect(pool).toMatchObject({ mode: 'tunnel', streamsTotal: SHORT + 1, streamsHandedOff: 1, streamsActive: 0 });
    // One app connection each, whichever way it went.
    expect((await pair.api.status()).listeners[0]).toMatchObject({ connectionsTotal: SHORT + 1, denied: 0 });
  });
  it('cuts a moved stream when the policy no longer allows its peer (policy_revoked)', async () => {
    const moved = async () => Number((await pair.api.get('/metrics')).text.match(/ztmesh_tunnel_handoffs_total\{direction="inbound",reason="join",result="moved"\} (\d+)/)?.[1] ?? 0);
    const before = await moved();
    const live = await connect(pair.webPort);
    // node reports a reset that arrives with unread bytes (here the echo's) as an end: the kernel is asked which it was.
    const reply = readAllOrReset(live);
    live.write(payload(32 * 1024 * 1024)); // bulk, and the connection stays open
    await expect.poll(moved, { timeout: 10_000 }).toBe(before + 1);
    await pair.setAllow(['spiffe://example.org/ns/default/sa/other']);
    const { error } = await reply;
    live.destroy();
    expect(error?.code).toBe('ECONNRESET');
    // The sidecar's JSON log is written asynchronously: the line may come after the reset.
    await expect.poll(() => pair.api.proc.json().find((l) => l.msg === 'connection closed' && l.reason === 'policy_revoked')).toMatchObject({ peerId: WEB_ID });
    await pair.setAllow([WEB_ID]);
  });
});
