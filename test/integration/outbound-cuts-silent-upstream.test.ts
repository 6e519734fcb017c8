// An upstream that accepts TCP but never answers the TLS handshake is cut at the handshake timeout
// (handshake_timeout) and the app connection is reset. The timer runs on the injected clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, makeCa, metric, outboundConfig, portOf, readAllOrReset, sidecarShared, tcpServer, TestIdentity, until, WEB } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startOutbound } from '../../src/sidecar/listeners.js';

describe('outbound cuts a silent upstream', () => {
  const clock = new FakeClock(Date.now());
  let accepted = 0;
  let silent: Awaited<ReturnType<typeof tcpServer>>;
  let shared: ReturnType<typeof sidecarShared>;
  let outbound: Awaited<ReturnType<typeof startOutbound>>;
  beforeAll(async () => {
    silent = await tcpServer((s) => { accepted++; s.on('error', () => {}); });
    shared = sidecarShared(new TestIdentity(makeCa(), WEB), { clock });
    outbound = await startOutbound(outboundConfig({ upstream: `127.0.0.1:${silent.port}`, handshakeTimeout: '5s' }), shared);
  });
  afterAll(async () => { await outbound.stopAccepting(); outbound.handler.destroyAll(); await silent.close(); });

  it('resets the app connection with handshake_timeout', async () => {
    const app = await connect(portOf(outbound.address));
    const ended = readAllOrReset(app);
    await until(() => accepted === 1);
    await clock.advance(4_999);
    expect(app.destroyed).toBe(false);
    await clock.advance(1);
    const { data, error } = await ended;
    expect(data.length).toBe(0);
    expect(error?.code).toBe('ECONNRESET');
    const line = await shared.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', direction: 'outbound', reason: 'handshake_timeout' });
    expect(await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'handshake_timeout' })).toBe(1);
  });
});
