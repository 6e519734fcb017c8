// A flood of refused connections cannot flood the log: the data path writes at most 20 warn lines per reason code per
// 10 s (as the CA and the admin servers do), counts every refusal in its metrics, and the first line after a quiet
// window says how many it left out (`suppressed`). 3,000 plaintext connections to an inbound listener; its clock is a
// manual one, so the window passes when the test says.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/fake-clock.js';
import { inboundConfig, makeCa, metric, portOf, sidecarShared, tcpServer, TestIdentity, API, TD } from '../helpers/datapath.js';
import { startInbound } from '../../src/sidecar/listeners.js';

const FLOOD = 3_000;
const AT_ONCE = 200;

describe('inbound: refusal logs are throttled per code', () => {
  const clock = new FakeClock(Date.now());
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let dp: ReturnType<typeof sidecarShared>;
  let port: number;
  beforeAll(async () => {
    app = await tcpServer((s) => s.destroy());
    dp = sidecarShared(new TestIdentity(makeCa(TD), API), { clock });
    port = portOf((await startInbound(inboundConfig({ forward: `127.0.0.1:${app.port}` }), dp)).address);
  });
  afterAll(async () => {
    await dp?.close();
    await app?.close();
  });

  /** One plaintext client: an HTTP request, then wait for the inbound to close the connection. */
  const plaintext = () => new Promise<void>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nHost: api\r\n\r\n'));
    s.on('error', () => {});
    s.on('data', () => {});
    s.once('close', () => resolve());
  });
  const warns = () => dp.logs.lines.filter((l) => l.level === 'warn');
  const notTls = () => metric(dp.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'not_tls' });

  it(`${FLOOD} plaintext connections write at most 40 warn lines, and every one is counted`, async () => {
    for (let i = 0; i < FLOOD; i += AT_ONCE) await Promise.all(Array.from({ length: Math.min(AT_ONCE, FLOOD - i) }, plaintext));
    expect(await notTls()).toBe(FLOOD);
    console.log(`${FLOOD} plaintext connections: ${warns().length} warn lines`);
    expect(warns().length).toBeLessThanOrEqual(40);
    expect(warns()[0]).toMatchObject({ msg: 'connection refused', reason: 'not_tls', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it('the first line after the window names how many were suppressed', async () => {
    const written = warns().length;
    await clock.advance(10_000);
    await plaintext();
    await dp.logs.waitFor(() => warns().length === written + 1);
    expect(warns().at(-1)).toMatchObject({ reason: 'not_tls', suppressed: FLOOD - written });
  });
});
