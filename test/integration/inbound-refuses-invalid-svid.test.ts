// A client certificate that chains to the bundle and carries an allowed ID, but breaks the X.509-SVID leaf rules
// (CA=true, two URI SANs, no digitalSignature), is refused with invalid_svid; a proper SVID is still forwarded.
// The client is a real openssl s_client; the odd certificates are made at test time by @peculiar/x509.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, makeLeaf, WEB } from '../helpers/datapath.js';
import { inboundScenario } from '../helpers/inbound-scenario.js';
import { makeOddLeaf, type OddLeafProfile } from '../helpers/odd-leaf.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';

const DIGITAL_SIGNATURE = 0x01;
const KEY_ENCIPHERMENT = 0x04;
const KEY_AGREEMENT = 0x10;
const KEY_CERT_SIGN = 0x20;

describe.skipIf(OPENSSL_MISSING)('inbound refuses a certificate that is not a leaf SVID', () => {
  let sc: Awaited<ReturnType<typeof inboundScenario>>;
  beforeAll(async () => { sc = await inboundScenario({ allow: [WEB] }); });
  afterAll(async () => { await sc.close(); });

  const cases: [string, OddLeafProfile, string, string | undefined][] = [
    ['CA=true with an allowed ID', { uris: [WEB], isCa: true, keyUsage: DIGITAL_SIGNATURE | KEY_CERT_SIGN }, 'not_a_leaf', WEB],
    ['two URI SANs, one allowed', { uris: [WEB, API] }, 'no_spiffe_id', undefined],
    ['keyUsage without digitalSignature', { uris: [WEB], keyUsage: KEY_ENCIPHERMENT | KEY_AGREEMENT }, 'bad_key_usage', WEB],
  ];

  it.each(cases)('%s: invalid_svid, one log line naming the peer, one metric', async (name, profile, problem, peerId) => {
    const before = sc.logs.refusals().length;
    const cert = sc.pem.leaf(await makeOddLeaf(sc.mesh.ca, profile), name.replace(/\W+/g, '-'));
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert, input: 'hello\n' });
    expect(r.stdout).not.toContain('pong');
    await sc.logs.waitFor(() => sc.logs.refusals().length > before);
    const line = sc.logs.refusals().at(-1)!;
    expect(line).toMatchObject({ level: 'warn', direction: 'inbound', reason: 'invalid_svid' });
    expect(String(line.detail)).toMatch(new RegExp(`^${problem}: `));
    expect(line.peerId).toBe(peerId);
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await sc.failures('invalid_svid')).toBe(cases.findIndex((c) => c[0] === name) + 1);
    await sc.assertKeepsServing();
  });

  it('still forwards a proper SVID of the allowed ID', async () => {
    const cert = sc.pem.leaf(makeLeaf(sc.mesh.ca, WEB), 'web');
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert, input: 'hi\n' });
    expect(r.stdout).toContain('pong:hi');
  });
});
