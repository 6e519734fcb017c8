// WatchTrustBundle sends the bundle at once; a new root written to bundle.pem under the next sequence, with its
// cross-certificate in cross.pem, reaches open streams.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBundles } from '../helpers/bundle-stream.js';
import { makeCa } from '../helpers/pki.js';
import { issuerFromCaDir } from '../helpers/ca-root.js';
import { formatBundleFile } from '../../src/ca/root/bundle-file.js';
import { createCrossCertificate, fromPemAll, toPem } from '../../src/pki/index.js';
import { chainPem, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca pushes a bundle change to open WatchTrustBundle streams', () => {
  it('sends the current bundle at once, then sequence+1 with the added root to every watcher, without a restart', async () => {
    const streams = [ca.client().WatchTrustBundle({}), ca.client().WatchTrustBundle({})];
    const watchers = streams.map(collectBundles);
    const firsts = await Promise.all(watchers.map((w) => w.next(1)));
    for (const f of firsts) {
      expect(f.trustDomain).toBe(ca.trustDomain);
      expect(f.roots).toHaveLength(1);
    }
    const seq = Number(firsts[0]!.sequence);

    const newRoot = makeCa(ca.trustDomain);
    const current = fromPemAll(ca.bundlePem);
    const vouch = createCrossCertificate({ rootDer: newRoot.certDer, issuer: issuerFromCaDir(ca.dir), trustDomain: ca.trustDomain, nowMs: Date.now() });
    writeFileSync(join(ca.dir, 'cross.pem'), toPem(vouch));
    writeFileSync(join(ca.dir, 'bundle.pem'), formatBundleFile([...current, newRoot.certDer], seq + 1));
    const seconds = await Promise.all(watchers.map((w) => w.next(2)));
    for (const s of seconds) {
      expect(Number(s.sequence)).toBe(seq + 1);
      expect(s.roots.map((r) => new X509Certificate(r).fingerprint256)).toContain(newRoot.cert.fingerprint256);
      expect(s.crossCertificates.map((c) => Buffer.from(c))).toEqual([vouch]);
    }

    // Responses carry the new bundle too, and the CA keeps signing.
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const res = await signCsr(ca.client(), makeCsr(id).csr, { token: await ca.mintToken(id) });
    expect(Number(res.trustBundle!.sequence)).toBe(seq + 1);
    expect(chainPem(res)).toContain('BEGIN CERTIFICATE');

    // A broken write keeps the last good bundle: no message, no crash.
    writeFileSync(join(ca.dir, 'bundle.pem'), 'not a bundle');
    await ca.process.waitFor(/trust bundle refused/);
    expect(watchers[0]!.seen).toHaveLength(2);
    for (const s of streams) s.cancel();
  });
});
