// The mesh stream's trust-bundle kind carries the JWT authorities with the roots: a JWT key boundary alone is a new
// version and a change signal; two replicas with the same files and key agree on the version; an X.509 change keeps
// the sequence readable; a peer holding the current version is sent nothing.
import { describe, expect, it } from 'vitest';
import { bundleKind } from '../../../../src/ca/mesh/bundle-kind.js';
import { JwtAuthoritySource } from '../../../../src/ca/jwt/jwt-authorities.js';
import type { BundleSnapshot } from '../../../../src/ca/root/trust-bundle.js';
import type { SigningMaterial } from '../../../../src/ca/state-dir.js';
import { loadCaProto } from '../../../../src/common/ca-proto.js';
import { Watchable } from '../../../../src/common/watchable.js';
import { decodeUpdate, encodeUpdate } from '../../../../src/mesh/codec.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { makeCa, type TestCa } from '../../../helpers/pki.js';

const Wire = loadCaProto().proto.ztmesh.mesh.v1.Mesh.service.Stream;
const S = { periodMs: 60_000, maxTtlMs: 10_000 };
const PEER = { spiffeId: 'spiffe://example.org/ns/a/sa/b', address: '127.0.0.1:1' };
const material = (ca: TestCa): SigningMaterial => ({ trustDomain: 'example.org', issuer: ca.issuer as SigningMaterial['issuer'], keyPem: ca.keyPem, caCertDer: ca.certDer, intermediatesDer: [], keyMode: 0o600 });
const snapshot = (ca: TestCa, sequence: number): BundleSnapshot => ({ trustDomain: 'example.org', rootsDer: [ca.certDer], roots: [ca.cert], pem: ca.certPem, sequence, cross: [] });
const flush = () => new Promise<void>((r) => queueMicrotask(r));
/** A bundle source over a Watchable (what TrustBundleSource offers: the snapshot now, then every change). */
const source = (w: Watchable<BundleSnapshot>) => ({ current: () => w.get(), subscribe: (l: (b: BundleSnapshot) => void) => w.subscribe(l) });

function replica(ca: TestCa, clock: FakeClock, sequence = 3) {
  const bundle = new Watchable(snapshot(ca, sequence));
  const jwt = new JwtAuthoritySource({ material: material(ca), schedule: S, clock, log: captureLogger().logger });
  return { bundle, jwt, kind: bundleKind(source(bundle), jwt) };
}

describe('the trust-bundle kind with JWT authorities', () => {
  it('versions the roots and the JWT keys together, and signals a JWT key boundary alone', async () => {
    const ca = makeCa('example.org');
    const clock = new FakeClock(Math.floor(Date.now() / S.periodMs) * S.periodMs + 20_000);
    const { bundle, jwt, kind } = replica(ca, clock);
    let changes = 0;
    kind.subscribe(() => changes++);
    const v1 = kind.version(PEER);
    expect(v1).toMatch(/^3\.[0-9a-f]{12}$/);
    const u1 = kind.next(PEER, undefined)!;
    expect(kind.next(PEER, undefined)).toBe(u1); // one object per version: encoded once for every stream
    expect(kind.next(PEER, v1)).toBeUndefined();
    // What the CA sends decodes on the sidecar with the same version and every authority.
    const decoded = decodeUpdate(Wire.responseDeserialize(Wire.responseSerialize(encodeUpdate(u1))));
    expect(decoded).toMatchObject({ ok: true, value: { version: v1, bundle: { sequence: '3', jwtAuthorities: jwt.current().map((a) => expect.objectContaining({ keyId: a.keyId })) } } });

    await clock.advance(S.periodMs - 20_000); // a JWT key period boundary: the roots stay, a new key is published
    await flush();
    expect(changes).toBe(1);
    const v2 = kind.version(PEER);
    expect(v2).not.toBe(v1);
    expect(v2.startsWith('3.')).toBe(true);
    expect(kind.next(PEER, v1)).toMatchObject({ version: v2 });

    bundle.set(snapshot(ca, 4)); // an X.509 change: the sequence moves, the JWT part stays
    await flush();
    expect(changes).toBe(2);
    expect(kind.version(PEER)).toBe(`4.${v2.split('.')[1]}`);
    jwt.close();
    kind.close();
  });

  it('gives two replicas with the same files and signing key the same version (the JWT keys derive alike)', () => {
    const ca = makeCa('example.org');
    const clock = new FakeClock(Math.floor(Date.now() / S.periodMs) * S.periodMs + 20_000);
    const a = replica(ca, clock);
    const b = replica(ca, clock);
    expect(a.kind.version(PEER)).toBe(b.kind.version(PEER));
    for (const r of [a, b]) { r.jwt.close(); r.kind.close(); }
  });

  it('is the sequence alone for a CA that publishes no JWT keys', () => {
    const kind = bundleKind(source(new Watchable(snapshot(makeCa('example.org'), 9))));
    expect(kind.version(PEER)).toBe('9');
    kind.close();
  });
});
