// One way to apply a trust bundle from the CA, for the mesh stream and WatchTrustBundle alike: the roots first, then
// the JWT authorities judged against the roots trusted once the roots are applied (so a key signed under a new,
// vouched-for root is taken with it); a refused bundle changes nothing, its JWT authorities included; the same or an
// older sequence is no refusal and its new JWT keys are taken; the mesh consumer NACKs with the bundle's code.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { CaReachability } from '../../../src/identity/ca-reachability.js';
import type { RawBundle } from '../../../src/identity/ca-client.js';
import { makeTrustBundle } from '../../../src/identity/credentials.js';
import { JwtBundleStore } from '../../../src/identity/jwt-bundle.js';
import { IdentityManager } from '../../../src/identity/manager.js';
import { bundleApplier, bundleConsumer } from '../../../src/identity/workload-identity.js';
import { trustBundleVersion } from '../../../src/mesh/kinds.js';
import { createCrossCertificate } from '../../../src/pki/index.js';
import { signAuthority, type JwtAuthority } from '../../../src/pki/jwt-authority.js';
import { FakeCaClient } from '../../helpers/fake-ca-client.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa, type TestCa } from '../../helpers/pki.js';

const TD = 'cluster.local';

function authority(keyId: string, by: TestCa, nowMs: number): JwtAuthority {
  const facts = { keyId, publicKeySpki: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }), notAfterMs: nowMs + 3_600_000 };
  return { ...facts, signature: signAuthority(TD, facts, by.key), signerChainDer: [by.certDer] };
}

function setup() {
  const clock = new FakeClock();
  const root = makeCa(TD, clock.now() - 86_400_000);
  const log = silentLogger();
  const identity = new IdentityManager({
    client: new FakeCaClient(root, clock), clock, log, trustDomain: TD, ttlMs: 3_600_000,
    bootstrapBundle: makeTrustBundle(TD, [root.certDer], 0), reachability: new CaReachability(clock, '127.0.0.1:1'),
  });
  const jwt = new JwtBundleStore({ trustDomain: TD, clock, log });
  const apply = bundleApplier(identity, jwt);
  const kids = () => jwt.current().authorities.map((a) => a.keyId);
  const bundle = (sequence: number, roots: TestCa[], jwtAuthorities: JwtAuthority[], crossCertsDer: Buffer[] = []): RawBundle =>
    ({ trustDomain: TD, rootsDer: roots.map((r) => r.certDer), sequence, crossCertsDer, jwtAuthorities, from: '127.0.0.1:15012' });
  return { clock, root, identity, jwt, apply, kids, bundle };
}

describe('applying a trust bundle from the CA', () => {
  it('takes the roots first, so a JWT key signed under a new root its cross-certificate vouches for is taken with it', () => {
    const t = setup();
    const next = makeCa(TD, t.clock.now() - 1_000);
    const vouch = createCrossCertificate({ rootDer: next.certDer, issuer: t.root.issuer, trustDomain: TD, nowMs: t.clock.now() });
    expect(t.apply(t.bundle(2, [t.root, next], [authority('under-old', t.root, t.clock.now()), authority('under-new', next, t.clock.now())], [vouch]))).toBeUndefined();
    expect(t.identity.current().bundle!.sequence).toBe(2);
    expect(t.kids()).toEqual(['under-new', 'under-old']);
  });

  it('changes nothing when the roots are refused, not even the JWT keys their trusted root signed', () => {
    const t = setup();
    const stranger = makeCa(TD, t.clock.now() - 1_000);
    const refusal = t.apply(t.bundle(2, [t.root, stranger], [authority('k', t.root, t.clock.now())]));
    expect(refusal).toMatchObject({ code: 'bundle_unvouched_root' });
    expect(t.identity.current().bundle!.sequence).toBe(0);
    expect(t.kids()).toEqual([]);
  });

  it('offers the JWT keys of the same or an older sequence (a new key period under the same roots)', () => {
    const t = setup();
    expect(t.apply(t.bundle(3, [t.root], [authority('p1', t.root, t.clock.now())]))).toBeUndefined();
    expect(t.apply(t.bundle(3, [t.root], [authority('p1', t.root, t.clock.now()), authority('p2', t.root, t.clock.now())]))).toBeUndefined();
    expect(t.apply(t.bundle(2, [t.root], [authority('p3', t.root, t.clock.now())]))).toBeUndefined();
    expect(t.kids()).toEqual(['p1', 'p2', 'p3']);
    expect(t.identity.current().bundle!.sequence).toBe(3);
  });

  it('is what the mesh stream\'s trust-bundle consumer does with an update, refusing with the bundle\'s code', () => {
    const t = setup();
    const consumer = bundleConsumer(t.apply);
    const wire = (sequence: string, roots: TestCa[], a: JwtAuthority[]) => {
      const jwtAuthorities = a.map((x) => ({ keyId: x.keyId, publicKey: x.publicKeySpki, notAfter: String(x.notAfterMs / 1000), signature: x.signature, signerChain: x.signerChainDer }));
      return { kind: 'trust-bundle' as const, version: trustBundleVersion(sequence, jwtAuthorities), base: '' as const, bundle: { trustDomain: TD, roots: roots.map((r) => r.certDer), sequence, crossCertificates: [], jwtAuthorities } };
    };
    expect(consumer.apply(wire('4', [t.root], [authority('m', t.root, Math.floor(t.clock.now() / 1000) * 1000)]), '127.0.0.1:15012')).toBeUndefined();
    expect(t.kids()).toEqual(['m']);
    expect(consumer.apply(wire('5', [makeCa(TD)], []), '127.0.0.1:15012')).toMatchObject({ code: 'bundle_drops_trusted_roots' });
    expect(t.identity.current().bundle!.sequence).toBe(4);
  });
});
