// A "plug-in CA": the operator fills --dir with an intermediate, its key, chain.pem and their root as bundle.pem.
// Leaves chain through the intermediate to the operator's root (openssl verify), and renewal still works.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeIntermediate } from '../helpers/pki.js';
import { chainPem, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { tempDir } from '../helpers/temp-dir.js';

const TD = 'corp.example';
let ca: TestCaServer;
const root = makeCa(TD);
const mid = makeIntermediate(root);
const issuing = makeIntermediate(mid);

beforeAll(async () => {
  const dir = join(tempDir('ztmesh-plugin-'), 'ca');
  mkdirSync(dir);
  writeFileSync(join(dir, 'ca.pem'), issuing.certPem);
  writeFileSync(join(dir, 'ca.key'), issuing.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'chain.pem'), mid.certPem + root.certPem); // a root in chain.pem is not sent
  writeFileSync(join(dir, 'bundle.pem'), root.certPem);
  ca = await startCa({ dir, trustDomain: TD });
});
afterAll(async () => { await ca.stop(); });

describe('ca serves as a plug-in intermediate', () => {
  it('returns leaf, issuing CA and intermediate (root excluded); openssl verifies against the operator root', async () => {
    const id = `spiffe://${TD}/ns/default/sa/web`;
    const first = makeCsr(id);
    const res = await signCsr(ca.client(), first.csr, { token: await ca.mintToken(id) });
    expect(res.certChain).toHaveLength(3);
    expect(new X509Certificate(res.certChain[1]!).fingerprint256).toBe(issuing.cert.fingerprint256);
    expect(new X509Certificate(res.certChain[2]!).fingerprint256).toBe(mid.cert.fingerprint256);
    const tmp = tempDir('ztmesh-plugin-v-');
    const leafFile = join(tmp, 'leaf.pem');
    const untrusted = join(tmp, 'untrusted.pem');
    writeFileSync(leafFile, chainPem({ ...res, certChain: [res.certChain[0]!] }));
    writeFileSync(untrusted, chainPem({ ...res, certChain: res.certChain.slice(1) }));
    writeFileSync(join(tmp, 'root.pem'), root.certPem);
    const out = execFileSync('openssl', ['verify', '-CAfile', join(tmp, 'root.pem'), '-untrusted', untrusted, leafFile], { encoding: 'utf8' });
    expect(out).toContain(': OK');

    // Renewal with the full chain as client certificate.
    const renewed = await signCsr(ca.client({ cert: chainPem(res), key: first.keyPem }), makeCsr(id).csr);
    expect(new X509Certificate(renewed.certChain[0]!).subjectAltName).toBe(`URI:${id}`);
  });
});
