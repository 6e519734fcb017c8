// A certificate of our own CA that has expired is refused (cert_expired), counted and logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLeaf } from '../helpers/datapath.js';
import { inboundScenario } from '../helpers/inbound-scenario.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';

describe.skipIf(OPENSSL_MISSING)('inbound refuses an expired certificate', () => {
  let sc: Awaited<ReturnType<typeof inboundScenario>>;
  beforeAll(async () => { sc = await inboundScenario(); });
  afterAll(async () => { await sc.close(); });

  it('refuses with cert_expired', async () => {
    const id = 'spiffe://cluster.local/ns/default/sa/old';
    const cert = sc.pem.leaf(makeLeaf(sc.mesh.ca, id, { nowMs: Date.now() - 3 * 3_600_000, ttlMs: 3_600_000 }), 'expired');
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert });
    expect(r.stdout).not.toContain('pong');
    const line = await sc.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', reason: 'cert_expired', peerId: id, detail: 'CERT_HAS_EXPIRED' });
    expect(await sc.failures('cert_expired')).toBe(1);
    await sc.assertKeepsServing();
  });
});
