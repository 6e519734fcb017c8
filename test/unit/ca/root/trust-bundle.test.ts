// The bundle source: publishes a change only with a higher sequence (from bundle.pem's sequence line), sends the
// cross-certificates that vouch for a root of the bundle, keeps the last good bundle on bad content, and re-reads the
// files when the CA's own root changes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrustBundleSource, assertBundleHoldsCaRoot, type BundleSnapshot } from '../../../../src/ca/root/trust-bundle.js';
import { formatBundleFile, readSequence } from '../../../../src/ca/root/bundle-file.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { certsToPem, createCrossCertificate } from '../../../../src/pki/index.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { makeCa, makeIntermediate, makeLeaf } from '../../../helpers/pki.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const bundleDir = () => {
  const dir = tempDir('ztmesh-bundle-');
  return { dir, file: join(dir, 'bundle.pem'), cross: join(dir, 'cross.pem') };
};

describe('TrustBundleSource', () => {
  it('publishes a change only with a higher sequence, and nothing on a rewrite of the same file', async () => {
    const { file, cross } = bundleDir();
    const clock = new FakeClock(Date.now());
    const a = makeCa('example.org', clock.now() - 1000);
    const b = makeCa('example.org', clock.now() - 1000);
    writeFileSync(file, formatBundleFile([a.certDer], 4));
    const cap = captureLogger();
    const src = await TrustBundleSource.open({ file, trustDomain: 'example.org', clock, log: cap.logger, pollMs: 1000 });
    const seen: BundleSnapshot[] = [];
    src.subscribe((s) => seen.push(s));
    expect(seen.map((s) => s.sequence)).toEqual([4]);

    writeFileSync(file, formatBundleFile([a.certDer], 4));
    await src.reload();
    expect(seen).toHaveLength(1);

    // Changed roots under the same sequence: another replica would send other roots under one number. Refused.
    writeFileSync(cross, certsToPem([createCrossCertificate({ rootDer: b.certDer, issuer: a.issuer, trustDomain: 'example.org', nowMs: clock.now() })]));
    writeFileSync(file, formatBundleFile([a.certDer, b.certDer], 4));
    await src.reload();
    expect(seen).toHaveLength(1);
    expect(cap.lines.find((l) => l.code === 'bundle_sequence_not_raised')).toMatchObject({ sequence: 4, current: 4 });

    writeFileSync(file, formatBundleFile([a.certDer, b.certDer], 5));
    await src.reload();
    expect(seen.map((s) => [s.sequence, s.roots.length])).toEqual([[4, 1], [5, 2]]);

    for (const bad of ['garbage', formatBundleFile([makeLeaf(a, 'spiffe://example.org/x').certDer], 9)]) {
      writeFileSync(file, bad);
      await src.reload();
    }
    expect(src.current().sequence).toBe(5);
    src.close();
  });

  it('a bundle.pem without the sequence line counts as sequence 1', () => {
    expect(readSequence(makeCa('example.org').certPem)).toBe(1);
    expect(readSequence(formatBundleFile([makeCa('example.org').certDer], 12))).toBe(12);
  });

  it('sends the cross-certificates that vouch for a root of the bundle, and drops them once their issuer is gone', async () => {
    const { file, cross } = bundleDir();
    const clock = new FakeClock(Date.now());
    const old = makeCa('example.org', clock.now() - 1000);
    const next = makeCa('example.org', clock.now() - 1000);
    const unrelated = makeCa('example.org', clock.now() - 1000);
    const vouch = createCrossCertificate({ rootDer: next.certDer, issuer: old.issuer, trustDomain: 'example.org', nowMs: clock.now() });
    const stray = createCrossCertificate({ rootDer: unrelated.certDer, issuer: old.issuer, trustDomain: 'example.org', nowMs: clock.now() });
    writeFileSync(cross, certsToPem([vouch, stray]));
    writeFileSync(file, formatBundleFile([old.certDer, next.certDer], 2));
    const src = await TrustBundleSource.open({ file, trustDomain: 'example.org', clock, log: silentLogger() });
    expect(src.current().cross.map((c) => c.raw)).toEqual([vouch]);
    writeFileSync(file, formatBundleFile([next.certDer], 3));
    await src.reload();
    expect(src.current().cross).toEqual([]);
    src.close();
  });

  it('notices a change through the stat poll driven by the clock', async () => {
    const { file } = bundleDir();
    const a = makeCa('example.org');
    writeFileSync(file, formatBundleFile([a.certDer], 1));
    const clock = new FakeClock();
    const src = await TrustBundleSource.open({ file, trustDomain: 'example.org', clock, log: silentLogger(), pollMs: 1000 });
    writeFileSync(file, formatBundleFile([a.certDer], 2));
    for (let i = 0; i < 20 && src.current().sequence === 1; i++) {
      await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5)); // the poll's fs.stat is real I/O
    }
    expect(src.current().sequence).toBe(2);
    src.close();
  });

  it('fails to open a missing or bad bundle with codes naming the file', async () => {
    const { file } = bundleDir();
    const open = () => TrustBundleSource.open({ file, trustDomain: 'td', clock: new FakeClock(), log: silentLogger() });
    await expect(open()).rejects.toMatchObject({ code: 'bundle_missing', message: expect.stringContaining(file) });
    writeFileSync(file, 'nope');
    await expect(open()).rejects.toMatchObject({ code: 'bad_bundle', message: expect.stringContaining(file) });
  });

  it('holds the CA to its root: refuses to open without it, keeps the last good bundle on a reload that drops it, and re-reads when the root changes', async () => {
    const { file, cross } = bundleDir();
    const root = makeCa('example.org');
    const other = makeCa('example.org');
    writeFileSync(cross, certsToPem([createCrossCertificate({ rootDer: other.certDer, issuer: root.issuer, trustDomain: 'example.org', nowMs: Date.now() })]));
    writeFileSync(file, formatBundleFile([other.certDer], 1));
    const open = () => TrustBundleSource.open({ file, trustDomain: 'example.org', caChain: { cert: root.cert, intermediates: [] }, clock: new FakeClock(Date.now()), log: silentLogger() });
    await expect(open()).rejects.toMatchObject({ code: 'bundle_lacks_ca_root', message: expect.stringContaining(file) });
    writeFileSync(file, formatBundleFile([other.certDer, root.certDer], 2));
    const src = await open();
    writeFileSync(file, formatBundleFile([other.certDer], 3));
    await src.reload();
    expect(src.current().roots).toHaveLength(2);
    // The CA switched to `other` (activate) after the bundle had already dropped `root` (retire ran early).
    await src.setCaChain({ cert: other.cert, intermediates: [] });
    expect(src.current()).toMatchObject({ sequence: 3, roots: [other.cert] });
    src.close();
  });
});

describe('the roots the CA trusts for renewal', () => {
  const clock = new FakeClock(Date.now());
  const root = makeCa('example.org', clock.now() - 1000);
  const previous = makeCa('example.org', clock.now() - 1000);
  const stranger = makeCa('example.org', clock.now() - 1000);
  const vouch = (r: typeof root, by: typeof root) => createCrossCertificate({ rootDer: r.certDer, issuer: by.issuer, trustDomain: 'example.org', nowMs: clock.now() });
  const open = (file: string, previousRoots: typeof root.cert[] = [], log = silentLogger()) => TrustBundleSource.open({
    file, trustDomain: 'example.org', caChain: { cert: root.cert, intermediates: [] }, previousRoots, clock, log,
  });

  it('at start: its own root, the previous root whose key it kept, and roots they vouch for; another root stops start-up, naming file and root', async () => {
    const { file, cross } = bundleDir();
    writeFileSync(file, formatBundleFile([previous.certDer, root.certDer], 3));
    await expect(open(file)).rejects.toMatchObject({
      code: 'bundle_unvouched_root', message: expect.stringMatching(new RegExp(`^${file}: new root [0-9a-f]{16}… .* comes without a valid cross-certificate from a root trusted now: add to ${cross}`)),
    });
    // After `activate`: the old root is previous.pem (its key kept), the new one signs.
    (await open(file, [previous.cert])).close();
    // After `prepare`: the CA's root vouches for the next one.
    writeFileSync(cross, certsToPem([vouch(stranger, root)]));
    writeFileSync(file, formatBundleFile([root.certDer, stranger.certDer], 4));
    (await open(file)).close();
    // A cross-certificate the other way round (the stranger vouching for the CA's root) vouches for nothing.
    writeFileSync(cross, certsToPem([vouch(root, stranger)]));
    await expect(open(file)).rejects.toMatchObject({ code: 'bundle_unvouched_root' });
  });

  it('while serving: a bundle.pem that gains an unvouched root is refused, the last good one stays, and the log names file and root', async () => {
    const { file, cross } = bundleDir();
    writeFileSync(file, formatBundleFile([root.certDer], 1));
    const cap = captureLogger();
    const src = await open(file, [], cap.logger);
    writeFileSync(file, formatBundleFile([root.certDer, stranger.certDer], 2));
    await src.reload();
    expect(src.current()).toMatchObject({ sequence: 1, roots: [root.cert] });
    const line = cap.lines.find((l) => l.code === 'bundle_unvouched_root');
    expect(line).toMatchObject({ file, msg: 'trust bundle refused; keeping the last good one', err: expect.stringContaining('comes without a valid cross-certificate') });
    // Roots trusted now vouch for the next one: the same change with a cross-certificate is taken.
    writeFileSync(cross, certsToPem([vouch(stranger, root)]));
    await src.reload();
    expect(src.current()).toMatchObject({ sequence: 2, roots: [root.cert, stranger.cert] });
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
