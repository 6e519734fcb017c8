// Two real sidecars sharing one tunnel, api with authz.revokeEstablished false: once api's policy denies web (reloaded
// with SIGHUP), web's next stream is reset with spiffe_id_denied on api's side (its log line naming the policy, metric
// and /status) and server_refused on web's, while the streams already open on that same tunnel connection keep flowing
// to their end, byte for byte (with revocation on they would be closed: tunnel-applies-policy-change-to-next-stream).
import { describe, expect, it } from 'vitest';
import { connect, readAllOrReset } from '../helpers/datapath.js';
import { payload, sha256, echoTunnelPairForSuite, WEB_ID } from '../helpers/tunnel.js';

const OTHER = 'spiffe://example.org/ns/default/sa/other';

describe('tunnel: a denied stream is reset, the others on the tunnel continue', () => {
  const pair = echoTunnelPairForSuite({ allow: [WEB_ID], apiConfig: { authz: { revokeEstablished: false } } });

  it('resets the new stream and keeps the open ones', async () => {
    // Three long-lived app connections on the tunnel, each echoing what it is sent.
    const open = await Promise.all([0, 1, 2].map(() => connect(pair.webPort)));
    const replies = open.map((s) => readAllOrReset(s));
    const first = open.map(() => payload(4096));
    open.forEach((s, i) => s.write(first[i]));
    await waitFor(async () => (await pair.api.status()).listeners[0]!.connectionsActive === 3);

    await pair.setAllow([OTHER]);
    const denied = await connect(pair.webPort);
    denied.write('let me in');
    const refusedReply = await readAllOrReset(denied);
    expect(refusedReply.data.length).toBe(0);
    expect(refusedReply.error?.code).toBe('ECONNRESET');

    // api writes its line before the reset, but web's reset may reach us before api's stdout does.
    const line = JSON.parse(await pair.api.proc.waitFor(/"msg":"connection refused"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'warn', reason: 'spiffe_id_denied', peerId: WEB_ID, policy: 'local', workload: 'spiffe://example.org/ns/default/sa/api' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    const webLine = await pair.web.proc.waitFor(/"msg":"connection refused"/);
    expect(JSON.parse(webLine)).toMatchObject({ reason: 'server_refused', upstream: `127.0.0.1:${pair.apiPort}` });
    expect(JSON.parse(webLine).detail).toContain('spiffe_id_denied');
    const metrics = (await pair.api.get('/metrics')).text;
    expect(metrics).toMatch(/ztmesh_handshake_failures_total\{direction="inbound",reason="spiffe_id_denied"\} 1/);
    expect(metrics).toMatch(/ztmesh_tunnel_streams_total\{direction="inbound",result="refused"\} 1/);
    expect((await pair.api.status()).listeners[0]).toMatchObject({ denied: 1, tunnelConnections: 1, lastRefusal: { reason: 'spiffe_id_denied', peerId: WEB_ID } });

    // The streams opened before the change finish with every byte, over the same single tunnel connection.
    const second = open.map(() => payload(64 * 1024));
    open.forEach((s, i) => s.end(second[i]));
    const done = await Promise.all(replies);
    done.forEach((r, i) => {
      expect(r.error).toBeUndefined();
      expect(sha256(r.data)).toBe(sha256(Buffer.concat([first[i]!, second[i]!])));
    });
    const [pool] = (await pair.web.status()).tunnelPools!;
    expect(pool).toMatchObject({ connections: 1, streamsTotal: 4 });
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
