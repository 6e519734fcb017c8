// A valid certificate of our trust domain whose ID is not on the allow list is refused (spiffe_id_denied);
// an allowed ID with the same CA is served. Both sides checked with a real openssl s_client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLeaf, WEB } from '../helpers/datapath.js';
import { inboundScenario } from '../helpers/inbound-scenario.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';

describe.skipIf(OPENSSL_MISSING)('inbound denies an unknown SPIFFE ID', () => {
  let sc: Awaited<ReturnType<typeof inboundScenario>>;
  beforeAll(async () => { sc = await inboundScenario({ allow: [WEB, 'spiffe://cluster.local/ns/ops/*'] }); });
  afterAll(async () => { await sc.close(); });

  it('refuses an ID outside the allow list with spiffe_id_denied', async () => {
    const id = 'spiffe://cluster.local/ns/default/sa/intruder';
    const cert = sc.pem.leaf(makeLeaf(sc.mesh.ca, id), 'intruder');
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert });
    expect(r.stdout).not.toContain('pong');
    const line = await sc.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', reason: 'spiffe_id_denied', peerId: id, detail: 'no_allow_matched (policy local)', policy: 'local' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await sc.failures('spiffe_id_denied')).toBe(1);
  });

  it('serves an ID matched by a prefix rule', async () => {
    const cert = sc.pem.leaf(makeLeaf(sc.mesh.ca, 'spiffe://cluster.local/ns/ops/sa/backup'), 'ops');
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert, input: 'hi\n' });
    expect(r.stdout).toContain('pong:hi');
    expect(sc.logs.refusals()).toHaveLength(1);
    await sc.assertKeepsServing();
  });
});
