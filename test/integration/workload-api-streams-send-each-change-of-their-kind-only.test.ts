// The Workload API's three streams on a real sidecar send the whole state at once, then one message per change of
// what they carry and none for any other change. FetchX509SVID, FetchX509Bundles and FetchJWTBundles are open on one
// connection through four steps: a forced rotation (a new SVID only), `ca root prepare` (a new X.509 root only),
// `ca root activate` (new JWT keys only: the CA's signing key changed, its bundle did not) and a second rotation.
// The streams share one HTTP/2 connection, so a message the sidecar wrote for an earlier step arrives before the one
// awaited for a later step: after the last step, the message counts are final for every step before it.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import type { JWTBundlesResponse__Output } from '../../src/gen/spiffe/JWTBundlesResponse.js';
import type { X509BundlesResponse__Output } from '../../src/gen/spiffe/X509BundlesResponse.js';
import type { X509SVIDResponse__Output } from '../../src/gen/spiffe/X509SVIDResponse.js';
import { fromPemAll } from '../../src/pki/index.js';
import { certFingerprint } from '../../src/pki/fingerprint.js';
import { runCli } from '../helpers/cli.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { collectMessages, derCertificates, unary, workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const TD = 'spiffe://example.org';
// The CA's JWT keys change only at a period boundary (24 h by default) or when its signing key switches (activate).
const suite = workloadApiSidecarForSuite();

const fingerprints = (der: Buffer) => derCertificates(der).map((c) => certFingerprint(c.raw));
/** The leaf of a FetchX509SVID message: serial, key, and the roots the message carries. */
function svidOf(m: X509SVIDResponse__Output) {
  expect(m.svids).toHaveLength(1);
  const s = m.svids[0]!;
  const leaf = derCertificates(s.x509Svid)[0]!;
  return { spiffeId: s.spiffeId, leaf, serial: leaf.serialNumber, keySha256: certFingerprint(leaf.publicKey.export({ format: 'der', type: 'spki' })), roots: fingerprints(s.bundle) };
}
const rootsOf = (m: X509BundlesResponse__Output) => {
  expect(Object.keys(m.bundles)).toEqual([TD]);
  return fingerprints(m.bundles[TD]!);
};
const jwksOf = (m: JWTBundlesResponse__Output) => {
  expect(Object.keys(m.bundles)).toEqual([TD]);
  const set = JSON.parse(m.bundles[TD]!.toString()) as { keys: { kid: string; use: string }[]; spiffe_sequence: number };
  for (const k of set.keys) expect(k.use).toBe('jwt-svid');
  return { kids: set.keys.map((k) => k.kid), sequence: set.spiffe_sequence };
};

describe('the Workload API streams', () => {
  it('send the state at once, then one message per change of their own kind: a new SVID, a new root, new JWT keys', async () => {
    const sc = suite.wl.sidecar;
    // The X.509 bundle from the CA and its JWT keys are in place: a stream opened now starts from the settled state.
    const start = await sc.waitForStatus((s) => s.trustBundle?.source === 'ca' && (s.workloadApi?.jwtBundle?.keyIds.length ?? 0) > 0);
    const r1 = certFingerprint(fromPemAll(suite.ca.bundlePem)[0]!);
    const c = suite.wl.client();
    const streams = [c.FetchX509SVID({}), c.FetchX509Bundles({}), c.FetchJWTBundles({})] as const;
    const svids = collectMessages(streams[0]);
    const bundles = collectMessages(streams[1]);
    const jwt = collectMessages(streams[2]);
    try {
      const s1 = svidOf(await svids.next(1));
      expect(s1).toMatchObject({ spiffeId: WEB_ID, roots: [r1] });
      expect(rootsOf(await bundles.next(1))).toEqual([r1]);
      const j1 = jwksOf(await jwt.next(1));
      expect(j1.kids).toEqual(start.workloadApi!.jwtBundle!.keyIds);

      // 1. A forced rotation: FetchX509SVID sends the new SVID (new serial, new key), with the same roots.
      expect((await sc.rotate()).status).toBe(200);
      const s2 = svidOf(await svids.next(2));
      expect(s2.serial).not.toBe(s1.serial);
      expect(s2.keySha256).not.toBe(s1.keySha256);
      expect(s2.roots).toEqual([r1]);
      expect((await sc.status()).identity.history.at(-1)!.publicKeySha256).toBe(s2.keySha256);

      // 2. A new root (prepare: bundle.pem gets r2 under the next sequence): both X.509 streams send it; the SVID is the same.
      const prep = await runCli(['ca', 'root', 'prepare', '--dir', suite.ca.dir]);
      expect(prep.code, prep.stderr).toBe(0);
      const r2Der = fromPemAll(readFileSync(join(suite.ca.dir, 'next.pem'), 'utf8'))[0]!;
      const r2 = certFingerprint(r2Der);
      const s3 = svidOf(await svids.next(3));
      expect(s3.serial).toBe(s2.serial);
      expect(s3.roots).toEqual([r1, r2]);
      expect(rootsOf(await bundles.next(2))).toEqual([r1, r2]);

      // 3. activate: the CA signs with r2's key from now on, so it publishes that key's JWT keys; only FetchJWTBundles sends.
      const act = await runCli(['ca', 'root', 'activate', '--dir', suite.ca.dir]);
      expect(act.code, act.stderr).toBe(0);
      const j2 = jwksOf(await jwt.next(2));
      const added = j2.kids.filter((k) => !j1.kids.includes(k));
      expect(added.length).toBeGreaterThan(0);
      expect(j2.kids).toEqual(expect.arrayContaining(j1.kids)); // the old keys stay until their tokens expire
      expect(j2.sequence).toBe(j1.sequence + 1);
      // A fresh token (an audience never asked for) is signed with a key that came in this message.
      const token = (await unary<{ svids: { svid: string }[] }>(c, 'FetchJWTSVID', { audience: ['after-activate'] })).svids[0]!.svid;
      expect(added).toContain(decodeProtectedHeader(token).kid);

      // 4. Another rotation: a new SVID, now issued by r2; it is also the barrier for the counts below.
      expect((await sc.rotate()).status).toBe(200);
      const s4 = svidOf(await svids.next(4));
      expect(s4.serial).not.toBe(s3.serial);
      expect(s4.roots).toEqual([r1, r2]);
      const r2Key = new X509Certificate(r2Der).publicKey;
      expect(s4.leaf.verify(r2Key)).toBe(true);
      expect(s2.leaf.verify(r2Key)).toBe(false);

      // No stream sent anything for a change of another kind, nor twice for one change.
      expect(svids.messages).toHaveLength(4); // start, rotation, new root, rotation (nothing for the JWT keys)
      expect(bundles.messages).toHaveLength(2); // start, new root (nothing for either rotation or the JWT keys)
      expect(jwt.messages).toHaveLength(2); // start, new JWT keys (nothing for the rotations or the new root)
    } finally {
      for (const s of streams) s.cancel();
    }
  });
});
