// The bundle source: reload publishes sequence+1 on change, ignores no-ops, keeps the last good bundle on bad content.
import { mkdtempSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrustBundleSource, assertBundleHoldsCaRoot, type BundleSnapshot } from '../../../src/ca/trust-bundle.js';
import { silentLogger } from '../../../src/common/logger.js';
import { makeCa, makeIntermediate, makeLeaf } from '../../helpers/pki.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('TrustBundleSource', () => {
  it('publishes sequence+1 on every change and nothing on a rewrite of the same roots', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-bundle-'));
    const file = join(dir, 'bundle.pem');
    const a = makeCa('example.org');
    writeFileSync(file, a.certPem);
    const clock = new FakeClock();
    const src = await TrustBundleSource.open({ file, trustDomain: 'example.org', clock, log: silentLogger(), pollMs: 1000 });
    const seen: BundleSnapshot[] = [];
    src.subscribe((b) => seen.push(b));
    expect(seen.map((b) => b.sequence)).toEqual([1]);

    writeFileSync(file, a.certPem);
    await src.reload();
    expect(seen).toHaveLength(1);

    appendFileSync(file, makeCa('example.org').certPem);
    await src.reload();
    expect(seen.map((b) => [b.sequence, b.roots.length])).toEqual([[1, 1], [2, 2]]);

    for (const bad of ['garbage', makeLeaf(a, 'spiffe://example.org/x').certPem]) {
      writeFileSync(file, bad);
      await src.reload();
    }
    expect(src.current().sequence).toBe(2);
    src.close();
  });

  it('notices a change through the stat poll driven by the clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-bundle-'));
    const file = join(dir, 'bundle.pem');
    writeFileSync(file, makeCa('example.org').certPem);
    const clock = new FakeClock();
    const src = await TrustBundleSource.open({ file, trustDomain: 'example.org', clock, log: silentLogger(), pollMs: 1000 });
    appendFileSync(file, makeCa('example.org').certPem);
    for (let i = 0; i < 20 && src.current().sequence === 1; i++) {
      await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5)); // the poll's fs.stat is real I/O
    }
    expect(src.current().sequence).toBe(2);
    src.close();
  });

  it('fails to open a missing or bad bundle with codes naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-bundle-'));
    const file = join(dir, 'bundle.pem');
    const open = () => TrustBundleSource.open({ file, trustDomain: 'td', clock: new FakeClock(), log: silentLogger() });
    await expect(open()).rejects.toMatchObject({ code: 'bundle_missing', message: expect.stringContaining(file) });
    writeFileSync(file, 'nope');
    await expect(open()).rejects.toMatchObject({ code: 'bad_bundle', message: expect.stringContaining(file) });
  });

  it('holds the CA to its root: refuses to open without it, and a reload that drops it keeps the last good bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-bundle-'));
    const file = join(dir, 'bundle.pem');
    const root = makeCa('example.org');
    const other = makeCa('example.org');
    const caChain = { cert: root.cert, intermediates: [] };
    writeFileSync(file, other.certPem);
    const open = () => TrustBundleSource.open({ file, trustDomain: 'example.org', caChain, clock: new FakeClock(), log: silentLogger() });
    await expect(open()).rejects.toMatchObject({ code: 'bundle_lacks_ca_root', message: expect.stringContaining(file) });
    writeFileSync(file, other.certPem + root.certPem);
    const src = await open();
    writeFileSync(file, other.certPem);
    await src.reload();
    expect(src.current().roots).toHaveLength(2);
    src.close();
  });
});

describe('assertBundleHoldsCaRoot', () => {
  const root = makeCa('corp.example');
  const mid = makeIntermediate(root);
  const issuing = makeIntermediate(mid);
  const ok = (roots: typeof root[], chain: typeof root[]) => () =>
    assertBundleHoldsCaRoot(roots.map((r) => r.cert), { cert: issuing.cert, intermediates: chain.map((c) => c.cert) }, 'bundle.pem');

  it('follows ca.pem up through chain.pem to a self-signed root in the bundle', () => {
    expect(ok([root], [issuing, mid])).not.toThrow();
    expect(ok([makeCa('corp.example'), root], [mid])).not.toThrow();
    expect(() => assertBundleHoldsCaRoot([root.cert], { cert: root.cert, intermediates: [] }, 'bundle.pem')).not.toThrow();
  });

  it('does not take an intermediate for the root, nor a chain that stops short', () => {
    expect(ok([mid], [issuing, mid])).toThrow(expect.objectContaining({ code: 'bundle_lacks_ca_root' }));
    expect(ok([root], [])).toThrow(expect.objectContaining({ code: 'bundle_lacks_ca_root' }));
    expect(ok([makeCa('corp.example')], [mid])).toThrow(expect.objectContaining({ code: 'bundle_lacks_ca_root' }));
  });
});
