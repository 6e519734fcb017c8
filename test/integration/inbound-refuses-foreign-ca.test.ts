// A certificate from a foreign CA — even one claiming an ID of our trust domain — is refused (untrusted_chain).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf, WEB } from '../helpers/datapath.js';
import { inboundScenario } from '../helpers/inbound-scenario.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';

describe.skipIf(OPENSSL_MISSING)('inbound refuses a foreign CA', () => {
  let sc: Awaited<ReturnType<typeof inboundScenario>>;
  beforeAll(async () => { sc = await inboundScenario(); });
  afterAll(async () => { await sc.close(); });

  it('refuses with untrusted_chain and names the claimed ID', async () => {
    const foreign = makeCa('cluster.local');
    const cert = sc.pem.leaf(makeLeaf(foreign, WEB), 'foreign');
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert });
    expect(r.stdout).not.toContain('pong');
    const line = await sc.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', reason: 'untrusted_chain', peerId: WEB });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await sc.failures('untrusted_chain')).toBe(1);
    await sc.assertKeepsServing();
  });
});
