// The signing switch: new material is built into a signer that must pass its self-test before one reference is
// swapped; signatures in flight finish on the old signer, which closes after them; refusals keep the old key.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SigningSwitch, chainOf, type SigningGeneration } from '../../../../src/ca/signing/signing-switch.js';
import { InlineSigner, type Signer, type SignerHealth } from '../../../../src/ca/signing/signer.js';
import { makeSelfTest } from '../../../../src/ca/signing/signer-self-test.js';
import { rootId } from '../../../../src/ca/root/bundle-file.js';
import type { BundleSnapshot } from '../../../../src/ca/root/trust-bundle.js';
import type { SigningMaterial } from '../../../../src/ca/state-dir.js';
import type { SignJob, SignResult } from '../../../../src/ca/signing/signing-policy.js';
import { Watchable } from '../../../../src/common/watchable.js';
import { buildCsr, certsToPem, createCrossCertificate, generateKeySync } from '../../../../src/pki/index.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { makeCa, type TestCa } from '../../../helpers/pki.js';

const TD = 'example.org';
const material = (ca: TestCa): SigningMaterial => ({ trustDomain: TD, issuer: { ...ca.issuer, cert: ca.cert }, keyPem: ca.keyPem, caCertDer: ca.certDer, intermediatesDer: [], keyMode: 0o600 });
const bundle = (roots: TestCa[], cross: Buffer[] = [], sequence = 1): BundleSnapshot => ({
  trustDomain: TD, rootsDer: roots.map((r) => r.certDer), roots: roots.map((r) => r.cert), pem: certsToPem(roots.map((r) => r.certDer)), sequence,
  cross: cross.map((d) => new X509Certificate(d)),
});
const job = (nowMs: number): SignJob => {
  const id = `spiffe://${TD}/ns/default/sa/web`;
  return { csr: buildCsr(generateKeySync(), { uris: [id], dnsNames: [] }), spiffeId: id, allowedDnsNames: [], ttlMs: 60_000, nowMs };
};

/** An inline signer whose signatures wait until released, and which records its close. */
class GatedSigner implements Signer {
  readonly mode = 'gated';
  readonly health: Watchable<SignerHealth>;
  closed = false;
  private readonly inner: InlineSigner;
  private gates: (() => void)[] = [];
  constructor(ca: TestCa, healthy = true) {
    this.inner = new InlineSigner(ca.issuer, makeSelfTest(TD, ca.certDer));
    this.health = new Watchable<SignerHealth>(healthy ? this.inner.health.get() : { ready: false, detail: 'self-test signature failed: test' });
  }
  async sign(j: SignJob): Promise<SignResult> {
    await new Promise<void>((r) => this.gates.push(r));
    return this.inner.sign(j);
  }
  release(): void {
    for (const g of this.gates.splice(0)) g();
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function setup(opts: { bundleRoots?: 'both' | 'old'; healthy?: boolean } = {}) {
  const clock = new FakeClock(Date.now());
  const r1 = makeCa(TD, clock.now() - 1000);
  const r2 = makeCa(TD, clock.now() - 1000);
  const x21 = createCrossCertificate({ rootDer: r2.certDer, issuer: r1.issuer, trustDomain: TD, nowMs: clock.now() });
  let snapshot = opts.bundleRoots === 'old' ? bundle([r1]) : bundle([r1, r2], [x21], 2);
  const first = new GatedSigner(r1);
  const built: GatedSigner[] = [];
  const cap = captureLogger();
  const initial: SigningGeneration = { material: material(r1), signer: first, chain: chainOf(material(r1)) };
  const sw = new SigningSwitch({
    initial, bundle: () => snapshot, bundlePath: 'bundle.pem', clock, log: cap.logger, readyTimeoutMs: 1000,
    build: (m) => { const s = new GatedSigner(m.issuer.cert.raw.equals(r2.certDer) ? r2 : r1, opts.healthy ?? true); built.push(s); return s; },
  });
  return { clock, r1, r2, x21, first, built, sw, cap, setBundle: (b: BundleSnapshot) => { snapshot = b; } };
}

describe('SigningSwitch', () => {
  it('swaps to the new root once its signer is ready; a signature in flight finishes on the old one, which closes after it', async () => {
    const t = setup();
    const switched: string[] = [];
    t.sw.onSwitch((g) => switched.push(rootId(g.material.issuer.cert)));
    const inFlight = t.sw.sign(job(t.clock.now()));
    expect(await t.sw.switchTo(material(t.r2))).toBe(true);
    expect(switched).toEqual([rootId(t.r2.cert)]);
    expect(t.first.closed).toBe(false);
    t.first.release();
    const old = await inFlight;
    expect(new X509Certificate(old.der).verify(t.r1.cert.publicKey)).toBe(true);
    expect(old.rootSha256).toBe(rootId(t.r1.cert));
    await Promise.resolve();
    expect(t.first.closed).toBe(true);

    const next = t.sw.sign(job(t.clock.now()));
    t.built[0]!.release();
    const fresh = await next;
    expect(new X509Certificate(fresh.der).verify(t.r2.cert.publicKey)).toBe(true);
    expect(fresh.rootSha256).toBe(rootId(t.r2.cert));
    // While r1 is in the bundle, peers that trust only r1 get the cross-certificate that bridges to it.
    expect(fresh.chainTailDer).toEqual([t.x21]);
    t.setBundle(bundle([t.r2], [], 3));
    expect(t.sw.bridge().bridgeDer).toEqual([]);
    expect(t.cap.lines.find((l) => l.msg === 'signing certificate switched: new certificates are issued under it')).toMatchObject({ to: { sha256: rootId(t.r2.cert) } });
  });

  it('keeps the current key when the bundle does not hold the new root', async () => {
    const t = setup({ bundleRoots: 'old' });
    expect(await t.sw.switchTo(material(t.r2))).toBe(false);
    expect(t.built).toEqual([]);
    expect(t.sw.current().material.issuer.cert.raw).toEqual(t.r1.certDer);
    expect(t.cap.lines.find((l) => l.code === 'bundle_lacks_ca_root')).toMatchObject({ msg: 'new signing certificate refused; keeping the current one' });
  });

  it('keeps the current key when the new signer does not pass its self-test in time, and closes the new one', async () => {
    const t = setup({ healthy: false });
    const done = t.sw.switchTo(material(t.r2));
    await t.clock.advance(1000);
    expect(await done).toBe(false);
    expect(t.built[0]!.closed).toBe(true);
    expect(t.sw.current().signer).toBe(t.first);
    expect(t.sw.health.get().ready).toBe(true);
    expect(t.cap.lines.find((l) => l.code === 'signer_switch_failed')).toBeDefined();
  });
});
