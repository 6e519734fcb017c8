// Two `ztmesh ca serve` processes on one state directory push the same sequence for the same bundle: the sequence
// comes from bundle.pem, not from a counter per process, so it also survives a restart. Both pick up
// `ca root prepare` and `activate` from the files without a restart.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBundles } from '../helpers/bundle-stream.js';
import { chainPem, initCa, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { fromPemAll } from '../../src/pki/index.js';

let dir: string;
const replicas: TestCaServer[] = [];
beforeAll(async () => {
  dir = await initCa();
  replicas.push(await startCa({ dir }), await startCa({ dir }));
});
afterAll(async () => {
  for (const r of replicas) await r.stop();
});

const ID = 'spiffe://example.org/ns/default/sa/web';

describe('replicas on one directory', () => {
  it('push the same sequence, roots and cross-certificates for the same bundle, before and after prepare and a restart', async () => {
    const [a, b] = replicas as [TestCaServer, TestCaServer];
    const watchers = [a, b].map((r) => collectBundles(r.client().WatchTrustBundle({})));
    const firsts = await Promise.all(watchers.map((w) => w.next(1)));
    expect(firsts.map((f) => f.sequence)).toEqual(['1', '1']);
    expect(firsts[0]!.roots).toEqual(firsts[1]!.roots);

    expect((await runCli(['ca', 'root', 'prepare', '--dir', dir])).code).toBe(0);
    const seconds = await Promise.all(watchers.map((w) => w.next(2)));
    expect(seconds.map((s) => s.sequence)).toEqual(['2', '2']);
    expect(seconds[0]!.roots).toEqual(seconds[1]!.roots);
    expect(seconds[0]!.roots).toHaveLength(2);
    expect(seconds[0]!.crossCertificates).toHaveLength(1);
    expect(seconds[0]!.crossCertificates).toEqual(seconds[1]!.crossCertificates);

    // A restarted replica starts where the files are, not at 1.
    await b.stop();
    const b2 = await startCa({ dir });
    replicas[1] = b2;
    const again = await collectBundles(b2.client().WatchTrustBundle({})).next(1);
    expect(again.sequence).toBe('2');
    expect(again.roots).toEqual(seconds[0]!.roots);
  });

  it('both sign under the new root after activate, without a restart', async () => {
    const r2 = new X509Certificate(fromPemAll(readFileSync(join(dir, 'next.pem'), 'utf8'))[0]!);
    expect((await runCli(['ca', 'root', 'activate', '--dir', dir, '--max-ttl', '1h'])).code).toBe(0);
    for (const r of replicas) {
      await r.process.waitFor(/signing certificate switched/);
      const res = await signCsr(r.client(), makeCsr(ID).csr, { token: await r.mintToken(ID) });
      const leaf = new X509Certificate(fromPemAll(chainPem(res))[0]!);
      expect(leaf.verify(r2.publicKey)).toBe(true);
      expect(res.trustBundle!.sequence).toBe('2');
    }
  });
});
