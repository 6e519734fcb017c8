// Two real sidecars: 200 concurrent app connections through one upstream ride on at most two TLS connections between
// them, and each carries its own bytes both ways, unchanged (sha256), with half-close: the client ends its side
// first and still reads the whole echo. With `tunnel: off` the same load takes one TLS connection per app connection.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { echoApp } from '../helpers/datapath.js';
import { echoRoundTrip, payload, startTunnelPair, type TunnelPair } from '../helpers/tunnel.js';

const CONNECTIONS = 200;

/** Established TCP connections to 127.0.0.1:port, counted by the kernel (ss), not by the sidecars. */
function establishedTo(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim()).length;
}

describe('tunnel: 200 concurrent app connections', () => {
  let ca: TestCaServer;
  let app: Awaited<ReturnType<typeof echoApp>>;
  let pair: TunnelPair;
  beforeAll(async () => {
    ca = await startCa();
    app = await echoApp();
    pair = await startTunnelPair({ ca, app });
  });
  afterAll(async () => {
    await pair?.close();
    await app?.close();
    await ca?.stop();
  });

  it('use at most two TLS connections, each app connection with its full bytes both ways', async () => {
    // Sizes differ per connection (1 byte to 192 KiB), so that a byte moved to the wrong stream shows.
    const sent = Array.from({ length: CONNECTIONS }, (_, i) => payload(1 + ((i * 7919) % (192 * 1024))));
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, establishedTo(pair.apiPort)); }, 50);
    const results = await Promise.all(sent.map((b) => echoRoundTrip(pair.webPort, b)));
    clearInterval(sampler);
    peak = Math.max(peak, establishedTo(pair.apiPort));
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.received).toBe(r.sent);
    }
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(2);
    const [pool] = (await pair.web.status()).tunnelPools!;
    expect(pool).toMatchObject({ upstream: `127.0.0.1:${pair.apiPort}`, mode: 'tunnel', streamsTotal: CONNECTIONS, streamsActive: 0 });
    expect(pool!.connections).toBeLessThanOrEqual(2);
    const listener = (await pair.api.status()).listeners[0]!;
    expect(listener).toMatchObject({ connectionsTotal: CONNECTIONS, denied: 0 });
    expect(listener.tunnelConnections).toBeLessThanOrEqual(2);
  });

  it('with tunnel: off, one TLS connection per app connection (the raw mTLS path)', async () => {
    const raw = await startTunnelPair({ ca, app, outbound: { tunnel: 'off' } });
    try {
      const sent = Array.from({ length: 20 }, (_, i) => payload(1000 + i));
      const held = await Promise.all(sent.map((b) => echoRoundTrip(raw.webPort, b)));
      for (const r of held) expect(r.received).toBe(r.sent);
      expect((await raw.web.status()).tunnelPools).toEqual([]);
      expect((await raw.api.status()).listeners[0]).toMatchObject({ connectionsTotal: 20, tunnelConnections: 0 });
    } finally {
      await raw.close();
    }
  });
});
