// Renewal attestor: current bundle, clock time, trust domain, and TLS-reported failures.
import { describe, expect, it } from 'vitest';
import { RenewalAttestor, renewalCode } from '../../../../src/ca/attestors/renewal.js';
import { makeCa, makeIntermediate, makeLeaf } from '../../../helpers/pki.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { X509Certificate } from 'node:crypto';

const clock = new FakeClock(Date.now());
const root = makeCa('example.org', clock.now());
const ID = 'spiffe://example.org/ns/default/sa/web';
const peer = '127.0.0.1:1';

describe('RenewalAttestor', () => {
  it('returns undefined without a client certificate', async () => {
    const a = new RenewalAttestor(() => [root.cert], () => [], 'example.org', clock);
    expect(await a.attest({ peer })).toBeUndefined();
  });

  it('attests the ID of a valid leaf, and stops when that root leaves the bundle', async () => {
    let roots = [root.cert];
    const a = new RenewalAttestor(() => roots, () => [], 'example.org', clock);
    const leaf = new X509Certificate(makeLeaf(root, ID, { nowMs: clock.now() }).certDer);
    expect(await a.attest({ peer, peerChain: [leaf] })).toEqual({ spiffeId: ID, method: 'renewal' });
    roots = [makeCa('example.org').cert];
    await expect(a.attest({ peer, peerChain: [leaf] })).rejects.toMatchObject({ code: 'renewal_untrusted_chain' });
  });

  it('refuses once the clock passes notAfter', async () => {
    const c = new FakeClock(clock.now());
    const a = new RenewalAttestor(() => [root.cert], () => [], 'example.org', c);
    const leaf = new X509Certificate(makeLeaf(root, ID, { nowMs: c.now(), ttlMs: 60_000 }).certDer);
    await c.advance(61_000);
    await expect(a.attest({ peer, peerChain: [leaf] })).rejects.toMatchObject({ code: 'renewal_cert_expired' });
  });

  it('chains a plug-in intermediate leaf through the CA intermediates', async () => {
    const mid = makeIntermediate(root, clock.now());
    const a = new RenewalAttestor(() => [root.cert], () => [mid.cert], 'example.org', clock);
    const leaf = new X509Certificate(makeLeaf(mid, ID, { nowMs: clock.now() }).certDer);
    expect((await a.attest({ peer, peerChain: [leaf] }))!.spiffeId).toBe(ID);
  });

  it('refuses another trust domain under the same root', async () => {
    const a = new RenewalAttestor(() => [root.cert], () => [], 'example.org', clock);
    const leaf = new X509Certificate(makeLeaf(root, 'spiffe://other.org/x', { nowMs: clock.now() }).certDer);
    await expect(a.attest({ peer, peerChain: [leaf] })).rejects.toMatchObject({ code: 'foreign_trust_domain' });
  });

  it('turns TLS verification errors into stable codes', async () => {
    const a = new RenewalAttestor(() => [root.cert], () => [], 'example.org', clock);
    await expect(a.attest({ peer, peerCertError: 'CERT_HAS_EXPIRED' })).rejects.toMatchObject({ code: 'renewal_cert_expired' });
    expect(renewalCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toBe('renewal_untrusted_chain');
    expect(renewalCode('CERT_NOT_YET_VALID')).toBe('renewal_cert_not_yet_valid');
  });
});
