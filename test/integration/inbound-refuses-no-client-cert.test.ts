// openssl s_client without a certificate is refused (no_client_cert), logged with its address, counted,
// and the listener keeps serving mesh clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundScenario } from '../helpers/inbound-scenario.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';

describe.skipIf(OPENSSL_MISSING)('inbound refuses a client without a certificate', () => {
  let sc: Awaited<ReturnType<typeof inboundScenario>>;
  beforeAll(async () => { sc = await inboundScenario(); });
  afterAll(async () => { await sc.close(); });

  it('refuses with no_client_cert, one warn line naming the peer, and a metric', async () => {
    const r = await sClient({ port: sc.port, caFile: sc.caFile });
    expect(r.stdout).not.toContain('pong');
    const line = await sc.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', reason: 'no_client_cert', direction: 'inbound', listener: 'in' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sc.logs.refusals()).toHaveLength(1);
    expect(await sc.failures('no_client_cert')).toBe(1);
    expect(sc.mesh.inbound.reporter.counters.denied).toBe(1);
    await sc.assertKeepsServing();
  });
});
