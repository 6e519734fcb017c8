// What rotation means for a plug-in CA: the operator's PKI issues a new intermediate, and replacing ca.pem, ca.key and
// chain.pem reaches the running CA without a restart. New leaves chain through the new intermediate; a half-written
// pair (a key that does not match its certificate yet) is ignored with a warning and the current key stays.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { makeCa, makeIntermediate } from '../helpers/pki.js';
import { tempDir } from '../helpers/temp-dir.js';

const TD = 'corp.example';
const root = makeCa(TD);
const first = makeIntermediate(root);
const second = makeIntermediate(root);
let ca: TestCaServer;
let dir: string;
const put = (name: string, text: string) => {
  writeFileSync(join(dir, `.${name}.tmp`), text, { mode: 0o600 });
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
};

beforeAll(async () => {
  dir = join(tempDir('ztmesh-plugin-swap-'), 'ca');
  mkdirSync(dir);
  put('ca.pem', first.certPem);
  put('ca.key', first.keyPem);
  put('bundle.pem', root.certPem);
  ca = await startCa({ dir, trustDomain: TD });
});
afterAll(async () => { await ca?.stop(); });

const id = `spiffe://${TD}/ns/default/sa/web`;
const issuerOf = async () => {
  const res = await signCsr(ca.client(), makeCsr(id).csr, { token: await ca.mintToken(id) });
  return { leaf: new X509Certificate(res.certChain[0]!), sent: res.certChain.slice(1).map((d) => new X509Certificate(d).fingerprint256) };
};

describe('a plug-in CA swaps its intermediate', () => {
  it('ignores a key that does not match, then signs through the new intermediate once the pair agrees', async () => {
    expect((await issuerOf()).sent).toEqual([first.cert.fingerprint256]);
    put('ca.key', second.keyPem);
    await ca.process.waitFor(/"code":"ca_key_mismatch".*"msg":"signing files refused; keeping the current signing key"/);
    const during = await issuerOf();
    expect(during.leaf.verify(first.cert.publicKey)).toBe(true);
    put('ca.pem', second.certPem);
    await ca.process.waitFor(/signing certificate switched/);
    const after = await issuerOf();
    expect(after.leaf.verify(second.cert.publicKey)).toBe(true);
    expect(after.sent).toEqual([second.cert.fingerprint256]);
  });
});
