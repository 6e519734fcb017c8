// A stolen CA identity is not enough to swap the roots. A stand-in CA holding a valid SVID for the CA's own ID (issued
// here with the real root key) speaks the real proto and pushes (a) a bundle that adds a root nothing vouches for and
// (b) one that drops every root the sidecar trusts. Both are refused with a stable code and one log line naming the
// stand-in, and the last good bundle stays in force: the bootstrap file's, or the one the real CA sent before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caSpiffeId } from '../../src/common/mesh.js';
import { certFingerprint, createCrossCertificate, fromPemAll } from '../../src/pki/index.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { issueFromCaDir, issuerFromCaDir } from '../helpers/ca-root.js';
import { startFakeCaServer, type FakeCaServer } from '../helpers/fake-ca-server.js';
import { makeCa } from '../helpers/pki.js';
import { startSidecar, WEB_ID, type TestSidecar } from '../helpers/sidecar.js';

let ca: TestCaServer;
let unvouched: FakeCaServer;
let dropsAll: FakeCaServer;
const attackerRoot = makeCa('example.org');
const sidecars: TestSidecar[] = [];

beforeAll(async () => {
  ca = await startCa();
  const realRoot = fromPemAll(ca.bundlePem)[0]!;
  const realIssuer = issuerFromCaDir(ca.dir);
  const base = {
    serving: issueFromCaDir(ca.dir, caSpiffeId(ca.trustDomain), { dnsNames: ['localhost'] }),
    clientRootsPem: ca.bundlePem, trustDomain: ca.trustDomain, signer: { issuer: realIssuer }, signedId: WEB_ID,
  };
  unvouched = await startFakeCaServer({ ...base, bundleRoots: [realRoot, attackerRoot.certDer] });
  // Even a root the real root vouches for may not replace every trusted root at once.
  const vouch = createCrossCertificate({ rootDer: attackerRoot.certDer, issuer: realIssuer, trustDomain: ca.trustDomain, nowMs: Date.now() });
  dropsAll = await startFakeCaServer({ ...base, bundleRoots: [attackerRoot.certDer], crossCerts: [vouch] });
});
afterAll(async () => {
  for (const s of sidecars) await s.stop();
  unvouched?.close();
  dropsAll?.close();
  await ca?.stop();
});

const realRootSha = () => certFingerprint(fromPemAll(ca.bundlePem)[0]!);
const refusalLine = (sc: TestSidecar, code: string) => sc.proc.waitFor(new RegExp(`"code":"${code}".*"msg":"trust bundle from the CA refused; keeping the last good one"`));

describe('a sidecar facing a stand-in CA that holds the CA identity', () => {
  it('refuses a bundle that drops every trusted root and keeps its bootstrap bundle, while still taking a valid certificate', async () => {
    const sc = await startSidecar({ ca, caAddress: dropsAll.address });
    sidecars.push(sc);
    const s = await sc.waitForStatus((st) => st.trustBundle?.lastRefusal?.code === 'bundle_drops_trusted_roots' && st.identity.state === 'available');
    expect(s.trustBundle).toMatchObject({ source: 'file', sequence: 0, roots: [{ sha256: realRootSha() }], lastRefusal: { from: dropsAll.address } });
    const line = JSON.parse(await refusalLine(sc, 'bundle_drops_trusted_roots')) as Record<string, unknown>;
    expect(line).toMatchObject({ ca: dropsAll.address, sequence: 1_000_000 });
  });

  it('refuses a bundle with a new, unvouched root and keeps the bundle the real CA sent before', async () => {
    const sc = await startSidecar({ ca, caAddress: `${ca.address},${unvouched.address}` });
    sidecars.push(sc);
    const before = await sc.waitForStatus((st) => st.identity.state === 'available' && st.trustBundle?.source === 'ca' && st.ca.bundleStream.connected);
    expect(before.trustBundle).toMatchObject({ sequence: 1, roots: [{ sha256: realRootSha() }], lastRefusal: null });
    // The real CA goes away; the stream fails over to the stand-in, which pushes the attacker's root.
    await ca.stop();
    const s = await sc.waitForStatus((st) => st.trustBundle?.lastRefusal?.code === 'bundle_unvouched_root');
    expect(s.trustBundle).toMatchObject({ source: 'ca', sequence: 1, roots: [{ sha256: realRootSha() }], lastRefusal: { from: unvouched.address } });
    expect(JSON.parse(await refusalLine(sc, 'bundle_unvouched_root'))).toMatchObject({ ca: unvouched.address });
    // It keeps working with the stand-in for what the stand-in may do: a certificate that chains to the trusted root.
    expect((await sc.rotate()).status).toBe(200);
    const after = await sc.status();
    expect(after.trustBundle!.roots.map((r) => r.sha256)).toEqual([realRootSha()]);
    expect(after.identity.state).toBe('available');
  });
});
