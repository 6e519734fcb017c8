// On Kubernetes the rotation steps run on a local copy of the Secret and are applied with kubectl (docs/ca.md).
// Here, on files: the Secret printed by `ca init --k8s-secret` is unpacked as the documented kubectl loop does, each
// step runs on that copy, and the copy is applied as `kubectl create secret --from-file … | kubectl replace` plus a
// kubelet sync would: a new volume directory swapped in at once. A CA serving from the volume follows every step.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { collectBundles } from '../helpers/bundle-stream.js';
import { chainPem, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { SecretVolume, secretFromDir, unpackSecret } from '../helpers/secret-volume.js';
import { fromPemAll } from '../../src/pki/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('ztmesh-k8s-rotation-');
let ca: TestCaServer | undefined;
afterAll(async () => {
  await ca?.stop();
});

describe('root rotation on a local copy of the Secret', () => {
  it('prepare, activate and retire on the copy; each applied copy reaches the CA serving from the mounted Secret', async () => {
    const init = await runCli(['ca', 'init', '--dir', join(tmp, 'init'), '--trust-domain', 'example.org', '--k8s-secret']);
    expect(init.code).toBe(0);
    const [secret] = parseAllDocuments(init.stdout).map((d) => d.toJS() as { data: Record<string, string> });
    const volume = new SecretVolume(join(tmp, 'mount'));
    volume.apply(Object.fromEntries(Object.entries(secret!.data).map(([k, v]) => [k, Buffer.from(v, 'base64')])));
    ca = await startCa({ dir: volume.dir });
    const watcher = collectBundles(ca.client().WatchTrustBundle({}));
    expect((await watcher.next(1)).sequence).toBe('1');

    const local = join(tmp, 'ca-local');
    unpackSecret(secret!, local);
    const step = async (...args: string[]) => {
      const r = await runCli(['ca', 'root', ...args, '--dir', local]);
      expect(r.code, r.stderr).toBe(0);
      volume.apply(secretFromDir(local));
      return r;
    };

    await step('prepare');
    expect(statSync(join(local, 'next.key')).mode & 0o777).toBe(0o600);
    expect(volume.keys()).toEqual(['bundle.pem', 'ca.key', 'ca.pem', 'cross.pem', 'next.key', 'next.pem']);
    const prepared = await watcher.next(2);
    expect(prepared.sequence).toBe('2');
    expect(prepared.roots).toHaveLength(2);
    // The sidecars' ConfigMap: `kubectl create configmap ztmesh-trust-bundle --from-file=roots.pem=ca-local/bundle.pem`.
    expect(fromPemAll(readFileSync(join(local, 'bundle.pem'), 'utf8'))).toEqual(prepared.roots);

    await step('activate', '--max-ttl', '1s');
    await ca.process.waitFor(/signing certificate switched/);
    const r2 = new X509Certificate(fromPemAll(readFileSync(join(local, 'ca.pem'), 'utf8'))[0]!);
    const id = 'spiffe://example.org/ns/default/sa/web';
    const res = await signCsr(ca.client(), makeCsr(id).csr, { token: await ca.mintToken(id) });
    expect(new X509Certificate(fromPemAll(chainPem(res))[0]!).verify(r2.publicKey)).toBe(true);

    await new Promise((r) => setTimeout(r, 1_100)); // activate's bound: max-ttl 1s
    await step('retire');
    expect(volume.keys()).toEqual(['bundle.pem', 'ca.key', 'ca.pem']);
    const retired = await watcher.next(3);
    expect(retired.sequence).toBe('3');
    expect(retired.roots).toEqual([r2.raw]);
    expect(retired.crossCertificates).toEqual([]);
  });
});
