// A peer that connects and sends nothing is cut at the handshake timeout (handshake_timeout).
// The timer runs on the injected clock: the test advances it instead of waiting.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, until, echoApp, inboundConfig, makeCa, metric, portOf, readAll, sidecarShared, TestIdentity } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startInbound } from '../../src/sidecar/listeners.js';

describe('inbound cuts a silent peer', () => {
  const clock = new FakeClock(Date.now());
  let app: Awaited<ReturnType<typeof echoApp>>;
  let shared: ReturnType<typeof sidecarShared>;
  let inbound: Awaited<ReturnType<typeof startInbound>>;
  beforeAll(async () => {
    app = await echoApp();
    shared = sidecarShared(new TestIdentity(makeCa(), API), { clock });
    inbound = await startInbound(inboundConfig({ forward: `127.0.0.1:${app.port}`, handshakeTimeout: '3s' }), shared);
  });
  afterAll(async () => { await inbound.stopAccepting(); inbound.handler.destroyAll(); inbound.handler.dispose(); await app.close(); });

  it('keeps the connection through most of the timeout, then cuts it with handshake_timeout', async () => {
    const s = net.connect({ host: '127.0.0.1', port: portOf(inbound.address) });
    const ended = readAll(s);
    await new Promise((r) => s.once('connect', r));
    await until(() => inbound.handler.activeCount() === 1);
    await clock.advance(2_900);
    expect(s.destroyed).toBe(false);
    expect(shared.logs.refusals()).toEqual([]);
    await clock.advance(100);
    await ended;
    const line = await shared.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', reason: 'handshake_timeout', direction: 'inbound' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'handshake_timeout' })).toBe(1);
    expect(shared.logs.refusals()).toHaveLength(1);
  });
});
