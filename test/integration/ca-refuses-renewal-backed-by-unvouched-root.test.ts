// The CA trusts for renewal only its own root and roots that a root it trusts vouches for by cross-certificate, the
// rule the sidecars apply. A root appended to bundle.pem without one is refused (the last good bundle stays, and the
// log names the file and the root), so a leaf it signed cannot renew, for any ID; a CA started on such a directory
// does not start. A root the CA's own root cross-signed joins, and a leaf it signed renews.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBundleFile } from '../../src/ca/root/bundle-file.js';
import { certsToPem, createCrossCertificate, fromPemAll } from '../../src/pki/index.js';
import { CliProcess } from '../helpers/cli.js';
import { makeCsr, refusalLogged, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';
import { issuerFromCaDir } from '../helpers/ca-root.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';

let ca: TestCaServer;
let bundleFile: string;
let realRoot: Buffer;
const ID = 'spiffe://example.org/ns/default/sa/web';

beforeAll(async () => {
  ca = await startCa();
  bundleFile = join(ca.dir, 'bundle.pem');
  realRoot = fromPemAll(readFileSync(bundleFile, 'utf8'))[0]!;
});
afterAll(async () => {
  await ca?.stop();
});

describe('renewal trust', () => {
  it('refuses a root appended without a cross-certificate, and a leaf it signed cannot renew', async () => {
    const attacker = makeCa(ca.trustDomain);
    writeFileSync(bundleFile, formatBundleFile([realRoot, attacker.certDer], 2));
    const line = JSON.parse(await ca.process.waitFor(/"code":"bundle_unvouched_root"/, 10_000)) as Record<string, unknown>;

    const leaf = makeLeaf(attacker, ID);
    const err = await signError(ca.client({ cert: leaf.certPem, key: leaf.keyPem }), makeCsr(ID).csr);
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await refusalLogged(ca, 'renewal_untrusted_chain')).toBeDefined();
    expect(line).toMatchObject({ file: bundleFile, msg: 'trust bundle refused; keeping the last good one' });
    expect(String(line.err)).toMatch(/new root [0-9a-f]{16}… .* comes without a valid cross-certificate from a root trusted now/);
  });

  it('does not start on a directory whose bundle.pem holds such a root, naming the file', async () => {
    const other = new CliProcess(['ca', 'serve', '--dir', ca.dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    const outcome = await Promise.race([other.exited, other.waitFor(/"msg":"ztmesh ca serving"/).then(() => 'serving')]);
    if (outcome === 'serving') await other.stop();
    expect(outcome).toBe(1);
    expect(other.output()).toMatch(new RegExp(`ztmesh ca serve: ${bundleFile.replace(/[.]/g, '\\.')}: new root [0-9a-f]{16}… .*\\(bundle_unvouched_root\\)`));
  });

  it('takes a root that its own root cross-signed, and a leaf of that root renews', async () => {
    const next = makeCa(ca.trustDomain);
    const cross = createCrossCertificate({ rootDer: next.certDer, issuer: issuerFromCaDir(ca.dir), trustDomain: ca.trustDomain, nowMs: Date.now() });
    writeFileSync(join(ca.dir, 'cross.pem'), certsToPem([cross]));
    writeFileSync(bundleFile, formatBundleFile([realRoot, next.certDer], 3));
    await ca.process.waitFor(/"sequence":3.*"msg":"trust bundle changed"/, 10_000);
    const leaf = makeLeaf(next, ID);
    const res = await signCsr(ca.client({ cert: leaf.certPem, key: leaf.keyPem }), makeCsr(ID).csr);
    expect(res.certChain.length).toBeGreaterThan(0);
  });
});
