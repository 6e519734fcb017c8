// The certificate files writer over a fake identity: nothing before the first SVID; each new SVID or bundle writes
// the three files (key 0600) and runs onRotate (a command here); an unchanged snapshot writes nothing; a failed
// write is logged naming the file and retried at the next change.
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Watchable } from '../../../src/common/watchable.js';
import { makeTrustBundle, type IdentitySnapshot, type Svid } from '../../../src/identity/credentials.js';
import { buildSvid } from '../../../src/identity/svid-material.js';
import { CertFiles } from '../../../src/workload-api/cert-files.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

const dir = tempDir('ztmesh-files-unit-');
const ca = makeCa('example.org');
const bundle = makeTrustBundle('example.org', [ca.certDer], 1);
/** A snapshot source the test drives. */
function source(initial: IdentitySnapshot) {
  const w = new Watchable<IdentitySnapshot>(initial);
  return { current: () => w.get(), subscribe: (l: (s: IdentitySnapshot) => void) => w.subscribe(l), set: (s: IdentitySnapshot) => w.set(s) };
}
const svid = (): Svid => {
  const leaf = makeLeaf(ca, 'spiffe://example.org/ns/default/sa/web');
  return buildSvid({ key: leaf.key, chainDer: [leaf.certDer], bundle, trustDomain: 'example.org', nowMs: Date.now() });
};

describe('CertFiles', () => {
  it('writes on each new SVID, runs onRotate once per write, and skips unchanged snapshots', async () => {
    const out = join(dir, 'a');
    const marker = join(dir, 'a-rotated');
    const identity = source({ state: 'initializing', bundle });
    const log = captureLogger();
    const files = new CertFiles({ dir: out, certFile: 'c.pem', keyFile: 'k.pem', bundleFile: 'b.pem', onRotate: { command: ['sh', '-c', `echo x >> ${marker}`] } }, { identity, clock: new FakeClock(Date.now()), log: log.logger });
    files.start();
    await files.stop();
    expect(files.status().writes).toBe(0);
    files.start();
    const first = svid();
    identity.set({ state: 'available', svid: first, bundle });
    identity.set({ state: 'renewing', svid: first, bundle }); // same SVID and bundle: nothing to write
    await files.stop();
    files.start();
    expect(new X509Certificate(readFileSync(join(out, 'c.pem'))).serialNumber.toLowerCase()).toBe(first.serialHex);
    expect(readFileSync(join(out, 'b.pem'), 'utf8')).toBe(bundle.rootsPem);
    expect(readFileSync(join(out, 'k.pem'), 'utf8')).toBe(first.keyPem);
    expect(statSync(join(out, 'k.pem')).mode & 0o777).toBe(0o600);
    const second = svid();
    identity.set({ state: 'available', svid: second, bundle });
    await files.stop();
    expect(files.status()).toMatchObject({ writes: 2, serial: second.serialHex, lastError: null, onRotate: { kind: 'command', runs: 2, lastResult: 'sh exited 0' } });
    expect(readFileSync(marker, 'utf8')).toBe('x\nx\n');
    expect(JSON.stringify(log.lines)).not.toContain('PRIVATE KEY');
  });

  it('logs a failed write with the file and code, and a failed hook, then writes again on the next change', async () => {
    const out = join(dir, 'locked');
    const identity = source({ state: 'available', svid: svid(), bundle });
    const log = captureLogger();
    const files = new CertFiles({ dir: out, certFile: 'c.pem', keyFile: 'k.pem', bundleFile: 'b.pem', onRotate: { signal: 'SIGHUP', pidFile: join(dir, 'missing.pid') } }, { identity, clock: new FakeClock(Date.now()), log: log.logger });
    // A file where the directory should be.
    writeFileSync(out, 'not a directory');
    files.start();
    await files.stop();
    expect(files.status().lastError).toMatchObject({ code: 'EEXIST' });
    expect(log.lines.find((l) => l.msg === 'certificate files not written; retrying on the next rotation')).toMatchObject({ file: out, code: 'EEXIST' });
    rmSync(out);
    identity.set({ state: 'available', svid: svid(), bundle });
    files.start();
    await files.stop();
    expect(files.status()).toMatchObject({ writes: 1, lastError: null, onRotate: { runs: 1, lastResult: expect.stringContaining('SIGHUP not sent') } });
  });
});
