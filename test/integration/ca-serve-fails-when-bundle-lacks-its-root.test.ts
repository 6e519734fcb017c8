// `ztmesh ca serve` refuses to start, exit 1 and a message naming bundle.pem, when the bundle does not hold the root
// its own chain leads to (its own root, or for a plug-in intermediate the root above chain.pem), or holds a leaf
// instead of a certificate authority (a subject-less SVID used to give a TypeError). With the right root it serves.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { initCa, startCa } from '../helpers/ca.js';
import { makeCa, makeIntermediate, makeLeaf } from '../helpers/pki.js';
import { tempDir } from '../helpers/temp-dir.js';

const serve = (dir: string) => runCli(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--sign-workers', '0']);

function pluginDir(files: { ca: string; key: string; chain?: string; bundle: string }): string {
  const dir = join(tempDir('ztmesh-bundle-root-'), 'ca');
  mkdirSync(dir);
  writeFileSync(join(dir, 'ca.pem'), files.ca);
  writeFileSync(join(dir, 'ca.key'), files.key, { mode: 0o600 });
  if (files.chain) writeFileSync(join(dir, 'chain.pem'), files.chain);
  writeFileSync(join(dir, 'bundle.pem'), files.bundle);
  return dir;
}

describe('ca serve checks that bundle.pem holds its root', () => {
  it('refuses a bundle with another root only, naming bundle.pem and the missing root', async () => {
    const dir = await initCa('example.org');
    writeFileSync(join(dir, 'bundle.pem'), makeCa('example.org').certPem);
    const r = await serve(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'bundle.pem')} does not hold the CA's root`);
    expect(r.stderr).toContain('ztmesh root CA example.org');
    expect(r.stderr).not.toMatch(/TypeError|at .*\.js/);
  });

  it('refuses a bundle holding a subject-less leaf instead of a certificate authority', async () => {
    const dir = await initCa('example.org');
    const other = makeCa('example.org');
    writeFileSync(join(dir, 'bundle.pem'), makeLeaf(other, 'spiffe://example.org/ns/default/sa/web').certPem);
    const r = await serve(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bundle\.pem: certificate with serial [0-9A-F]+ and no subject is not a certificate authority/);
    expect(r.stderr).not.toContain('TypeError');
  });

  it('plug-in intermediate: refuses a bundle holding the intermediate above it but not the root chain.pem leads to', async () => {
    const root = makeCa('corp.example');
    const mid = makeIntermediate(root);
    const issuing = makeIntermediate(mid);
    const wrong = pluginDir({ ca: issuing.certPem, key: issuing.keyPem, chain: mid.certPem + root.certPem, bundle: mid.certPem });
    const r = await serve(wrong);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not hold the CA's root");

    const right = pluginDir({ ca: issuing.certPem, key: issuing.keyPem, chain: mid.certPem, bundle: root.certPem });
    const ca = await startCa({ dir: right, trustDomain: 'corp.example' });
    expect(await ca.stop()).toBe(0);
  });
});
