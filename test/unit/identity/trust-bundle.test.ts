// decideBundle: a bundle from the CA replaces the one in force only when a root trusted now stays and every new root
// is vouched for by a cross-certificate from a root trusted now; table-tested, including sidecars that missed steps.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideBundle, type BundleDecision } from '../../../src/identity/trust-bundle.js';
import { makeTrustBundle } from '../../../src/identity/credentials.js';
import type { RawBundle } from '../../../src/identity/ca-client.js';
import { caName, createCrossCertificate, newSerial, signCertificate, spkiOf } from '../../../src/pki/index.js';
import { makeCa, makeIntermediate } from '../../helpers/pki.js';

const TD = 'example.org';
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const r1 = makeCa(TD, NOW - 86_400_000);
const r2 = makeCa(TD, NOW - 1000);
const r3 = makeCa(TD, NOW - 1000);
const attacker = makeCa(TD, NOW - 1000);
const cross = (root: typeof r2, by: typeof r1, nowMs = NOW) => createCrossCertificate({ rootDer: root.certDer, issuer: by.issuer, trustDomain: TD, nowMs });
const x21 = cross(r2, r1);
const x32 = cross(r3, r2);
const x12 = cross(r1, r2);
const xAttacker = cross(attacker, attacker);
/** Valid only in 2025: expired by NOW. */
const x21Expired = signCertificate({
  serial: newSerial(), notBeforeMs: Date.UTC(2025, 0, 1), notAfterMs: Date.UTC(2025, 11, 31), subjectDer: caName('ztmesh', `ztmesh root CA ${TD}`),
  spki: spkiOf(r2.key), uris: [], dnsNames: [], isCa: true,
}, r1.issuer);
/** r2's key, signed by r1, but under another subject: it would not bridge a chain that names r2. */
const x21OtherSubject = signCertificate({
  serial: newSerial(), notBeforeMs: NOW - 1000, notAfterMs: NOW + 86_400_000, subjectDer: caName('ztmesh', 'somebody else'),
  spki: spkiOf(r2.key), uris: [], dnsNames: [], isCa: true,
}, r1.issuer);
const inter = makeIntermediate(r1, NOW - 1000);
const xInter = cross(inter, r1);

const held = (roots: Buffer[], sequence: number, source: 'file' | 'ca' = 'ca') => ({ bundle: makeTrustBundle(TD, roots, sequence), source });
const push = (roots: Buffer[], sequence: number, crossCertsDer: Buffer[] = [], trustDomain = TD): RawBundle => ({ trustDomain, rootsDer: roots, sequence, crossCertsDer });

describe('decideBundle', () => {
  it.each<[string, ReturnType<typeof held>, RawBundle, BundleDecision]>([
    // The bootstrap file is the first trust; the CA's first bundle is judged against it.
    ['the CA confirms the bootstrap roots', held([r1.certDer], 0, 'file'), push([r1.certDer], 1), 'accept'],
    ['the bootstrap already holds both roots and the CA has retired one', held([r1.certDer, r2.certDer], 0, 'file'), push([r2.certDer], 3), 'accept'],
    ['the CA pushes an unknown root over the bootstrap', held([r1.certDer], 0, 'file'), push([r1.certDer, attacker.certDer], 9), 'unvouched_root'],
    // prepare → activate → retire, one step at a time.
    ['prepare: a new root vouched for by the current one', held([r1.certDer], 1), push([r1.certDer, r2.certDer], 2, [x21]), 'accept'],
    ['activate: the same bundle, the same sequence', held([r1.certDer, r2.certDer], 2), push([r1.certDer, r2.certDer], 2, [x21]), 'same'],
    ['retire: the old root leaves while the new one stays', held([r1.certDer, r2.certDer], 2), push([r2.certDer], 3), 'accept'],
    // What a stolen CA identity cannot do.
    ['a new root without any cross-certificate', held([r1.certDer], 1), push([r1.certDer, attacker.certDer], 2), 'unvouched_root'],
    ['a new root vouched for only by itself', held([r1.certDer], 1), push([r1.certDer, attacker.certDer], 2, [xAttacker]), 'unvouched_root'],
    ["a cross-certificate for another root's key", held([r1.certDer], 1), push([r1.certDer, attacker.certDer], 2, [x21]), 'unvouched_root'],
    ['an expired cross-certificate', held([r1.certDer], 1), push([r1.certDer, r2.certDer], 2, [Buffer.from(x21Expired)]), 'unvouched_root'],
    ['a cross-certificate naming another subject', held([r1.certDer], 1), push([r1.certDer, r2.certDer], 2, [Buffer.from(x21OtherSubject)]), 'unvouched_root'],
    ['an intermediate offered as a root, even cross-certified', held([r1.certDer], 1), push([r1.certDer, inter.certDer], 2, [xInter]), 'unvouched_root'],
    ['a bundle that drops every trusted root for an unknown one', held([r1.certDer], 1), push([attacker.certDer], 2), 'drops_trusted_roots'],
    ['a bundle that drops every trusted root even for a vouched one', held([r1.certDer], 1), push([r2.certDer], 2, [x21]), 'drops_trusted_roots'],
    // Sequence, trust domain, shape.
    ['a lagging replica (lower sequence)', held([r1.certDer, r2.certDer], 2), push([r1.certDer], 1), 'stale'],
    ['another trust domain', held([r1.certDer], 1), push([r1.certDer], 2, [], 'other.org'), 'wrong_trust_domain'],
    ['no root at all', held([r1.certDer], 1), push([], 2), 'empty'],
    ['a root that does not parse', held([r1.certDer], 1), push([r1.certDer, Buffer.from('nope')], 2), 'malformed'],
    // Sidecars that missed steps.
    ['missed prepare, back after activate: the jump vouches for the new root', held([r1.certDer], 1), push([r1.certDer, r2.certDer], 2, [x21]), 'accept'],
    ['missed several sequences, but the new root is vouched for', held([r1.certDer], 1), push([r1.certDer, r2.certDer], 7, [x21]), 'accept'],
    ['missed prepare, activate and retire: no trusted root left, so it must be bootstrapped again', held([r1.certDer], 1), push([r2.certDer], 3, [x21]), 'drops_trusted_roots'],
    ['a second rotation vouched for by the root of the first', held([r2.certDer], 3), push([r2.certDer, r3.certDer], 4, [x32]), 'accept'],
    ['rolling back to a retired root is refused: nothing trusted now vouches for it', held([r2.certDer], 3, 'file'), push([r1.certDer, r2.certDer], 2, [x21]), 'unvouched_root'],
    ['…unless the current root itself vouches for it', held([r2.certDer], 3, 'file'), push([r1.certDer, r2.certDer], 2, [x12]), 'accept'],
  ])('%s → %s', (_what, current, candidate, expected) => {
    expect(decideBundle(current, candidate, TD, NOW).decision).toBe(expected);
  });

  it('names the root it refused', () => {
    const v = decideBundle(held([r1.certDer], 1), push([r1.certDer, attacker.certDer], 2), TD, NOW);
    expect(v.detail).toMatch(/^new root [0-9a-f]{16}… \(O=ztmesh, CN=ztmesh root CA example\.org\) comes without a valid cross-certificate/);
    const d = decideBundle(held([r1.certDer], 1), push([attacker.certDer], 2), TD, NOW);
    expect(d.detail).toMatch(/none of the 1 root\(s\) trusted now is in it/);
  });

  it('a cross-certificate outside its validity vouches for nothing (the clock is an input)', () => {
    const later = Date.parse(r1.cert.validTo) + 1000;
    expect(decideBundle(held([r1.certDer], 1), push([r1.certDer, r2.certDer], 2, [x21]), TD, later).decision).toBe('unvouched_root');
  });

  it('never throws and never adds a root on arbitrary cross-certificate bytes', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 4 }), (bytes) => {
      const v = decideBundle(held([r1.certDer], 1), push([r1.certDer, attacker.certDer], 2, bytes.map((b) => Buffer.from(b))), TD, NOW);
      expect(['malformed', 'unvouched_root']).toContain(v.decision);
    }), { numRuns: 200 });
  });
});
