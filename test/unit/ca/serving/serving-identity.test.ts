// The CA's serving certificate: issued for the CA's SPIFFE ID and --dns names, renewed at half-life ±10% by the clock.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ServingIdentity } from '../../../../src/ca/serving/serving-identity.js';
import { caSpiffeId } from '../../../../src/common/mesh.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { fromPemAll } from '../../../../src/pki/pem.js';
import { makeCa } from '../../../helpers/pki.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

describe('ServingIdentity', () => {
  it('issues for spiffe://TD/ns/ztmesh-system/sa/ztmesh-ca + DNS, then renews at half-life with a fresh key', async () => {
    const clock = new FakeClock(Date.now());
    const ca = makeCa('example.org', clock.now() - 1000);
    const id = new ServingIdentity({ trustDomain: 'example.org', dnsNames: ['localhost', 'ca.example'], ttlMs: 600_000, issuer: ca.issuer, intermediatesDer: [], clock, log: silentLogger(), random: () => 0.5 });
    const seen: string[] = [];
    id.onChange((c) => seen.push(String(c.cert)));
    id.start();
    id.setClientRoots(ca.certPem);
    const ctx = id.secureContext();
    expect(String(ctx.ca)).toContain('BEGIN CERTIFICATE');
    const leaf = new X509Certificate(fromPemAll(String(ctx.cert))[0]!);
    expect(leaf.subjectAltName).toBe(`URI:${caSpiffeId('example.org')}, DNS:localhost, DNS:ca.example`);
    const firstSerial = id.serialHex;
    const [refreshIn] = clock.pendingTimers(); // half of notAfter - now (notAfter is whole seconds)
    expect(refreshIn).toBeGreaterThan(299_000);
    expect(refreshIn).toBeLessThanOrEqual(300_000);

    await clock.advance(299_000);
    expect(id.serialHex).toBe(firstSerial);
    await clock.advance(1_000);
    expect(id.serialHex).not.toBe(firstSerial);
    expect(String(id.secureContext().key)).not.toBe(String(ctx.key));
    expect(seen.length).toBe(3); // first issue, roots, renewal
    id.stop();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it.each([[0, 0.45], [0.999999, 0.55]])('with random %d renews at %d of the lifetime (refreshAt\'s jitter), never in lockstep', (random, fraction) => {
    const clock = new FakeClock(Date.UTC(2026, 10, 27, 12, 0, 0));
    const ca = makeCa('example.org', clock.now() - 1000);
    const id = new ServingIdentity({ trustDomain: 'example.org', dnsNames: [], ttlMs: 600_000, issuer: ca.issuer, intermediatesDer: [], clock, log: silentLogger(), random: () => random });
    id.start();
    expect(clock.pendingTimers()).toEqual([Math.round(600_000 * fraction)]);
    id.stop();
  });
});
