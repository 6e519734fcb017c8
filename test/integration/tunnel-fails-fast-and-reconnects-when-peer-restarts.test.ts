// Two real sidecars: when api is killed (SIGKILL, no goodbye), web's pooled connection goes with it: an open app
// connection is reset, new app connections fail at once with upstream_unavailable (not after a handshake timeout),
// and once api is back on its port the next app connection opens a new tunnel connection and goes through.
import { describe, expect, it } from 'vitest';
import { connect, readAllOrReset } from '../helpers/datapath.js';
import { echoRoundTrip, payload, echoTunnelPairForSuite } from '../helpers/tunnel.js';

describe('tunnel: the peer sidecar dies and comes back', () => {
    // A long handshake timeout: a new stream that waited on the dead connection would show as a handshake_timeout.
  const pair = echoTunnelPairForSuite({ outbound: { handshakeTimeout: '30s' } });

  it('fails new streams fast while it is gone, and reconnects once it is back', async () => {
    const first = await echoRoundTrip(pair.webPort, payload(4096));
    expect(first.received).toBe(first.sent);
    const open = await connect(pair.webPort);
    const openReply = readAllOrReset(open);
    open.write('hold');
    await new Promise((r) => open.once('data', r));

    pair.api.proc.child.kill('SIGKILL');
    await pair.api.proc.exited;
    expect((await openReply).error?.code).toBe('ECONNRESET');

    const started = Date.now();
    const failed = await echoRoundTrip(pair.webPort, payload(100));
    expect(failed.error).toBe('ECONNRESET');
    expect(Date.now() - started).toBeLessThan(10_000);
    const line = JSON.parse(await pair.web.proc.waitFor(/"reason":"upstream_unavailable"/));
    expect(line).toMatchObject({ msg: 'connection failed' });
    expect(String(line.detail)).toContain('ECONNREFUSED');
    expect((await pair.web.status()).tunnelPools![0]).toMatchObject({ connections: 0 });

    await pair.restartApi();
    const back = await echoRoundTrip(pair.webPort, payload(64 * 1024));
    expect(back.error).toBeUndefined();
    expect(back.received).toBe(back.sent);
    expect((await pair.web.status()).tunnelPools![0]).toMatchObject({ connections: 1, mode: 'tunnel' });
    expect(pair.web.proc.json().filter((l) => l.reason === 'handshake_timeout')).toEqual([]);
  });
});
