// A sidecar takes a trust bundle (and sends its token or CSR) only to a peer whose certificate carries the CA's ID
// and chains to a root it already trusts. An impostor holding an ordinary workload SVID from the real root, speaking
// the real proto and pushing a bundle of its own root, gets connections and nothing else: no call, no token,
// and the sidecar keeps the bundle it had (from the real CA behind it, or its bootstrap file when alone).
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { issueFromCaDir } from '../helpers/ca-root.js';
import { startFakeCaServer, type FakeCaServer } from '../helpers/fake-ca-server.js';
import { makeCa } from '../helpers/pki.js';
import { startSidecar, WEB_ID, type TestSidecar } from '../helpers/sidecar.js';

let ca: TestCaServer;
let impostor: FakeCaServer;
const attackerRoot = makeCa('example.org');
const sidecars: TestSidecar[] = [];

beforeAll(async () => {
  ca = await startCa();
  impostor = await startFakeCaServer({
    serving: issueFromCaDir(ca.dir, 'spiffe://example.org/ns/default/sa/api', { dnsNames: ['localhost'] }),
    clientRootsPem: ca.bundlePem, trustDomain: ca.trustDomain, signer: attackerRoot, signedId: WEB_ID, bundleRoots: [attackerRoot.certDer],
  });
});
afterAll(async () => {
  for (const s of sidecars) await s.stop();
  impostor?.close();
  await ca?.stop();
});

const realRoot = () => new X509Certificate(ca.bundlePem).fingerprint256.replace(/:/g, '').toLowerCase();

describe('a sidecar facing a CA impostor with a real workload SVID', () => {
  it('skips the impostor, gets its certificate and bundle from the real CA behind it, and keeps that bundle', async () => {
    const sc = await startSidecar({ ca, caAddress: `${impostor.address},${ca.address}` });
    sidecars.push(sc);
    const s = await sc.waitForStatus((st) => st.identity.state === 'available' && st.trustBundle?.source === 'ca' && st.ca.bundleStream.connected);
    expect(s.trustBundle!.roots.map((r) => r.sha256)).toEqual([realRoot()]);
    expect(impostor.connections).toBeGreaterThan(0); // it was tried first, every time
    expect(impostor.calls).toEqual([]);
    await sc.rotate();
    const after = await sc.waitForStatus((st) => st.identity.state === 'available' && st.identity.rotations >= 1);
    expect(after.trustBundle!.roots.map((r) => r.sha256)).toEqual([realRoot()]);
    expect(impostor.calls).toEqual([]);
  });

  it('alone with the impostor, stays without a certificate and keeps its bootstrap bundle; the token never leaves', async () => {
    const sc = await startSidecar({ ca, caAddress: impostor.address });
    sidecars.push(sc);
    const before = impostor.connections;
    const s = await sc.waitForStatus((st) => st.identity.lastError?.code === 'ca_identity_mismatch' && impostor.connections > before);
    expect(s.identity.state).toBe('initializing');
    expect(s.trustBundle).toMatchObject({ source: 'file', roots: [{ sha256: realRoot() }] });
    expect(impostor.calls).toEqual([]);
    expect(sc.proc.output()).not.toContain(sc.token);
  });
});
