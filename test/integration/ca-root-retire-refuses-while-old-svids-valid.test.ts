// `ztmesh ca root retire` refuses, without --force, while an SVID issued under the old root may still be valid:
// according to the issuance log when one is given, or to the time activate recorded when none is. --force retires
// anyway and says what it overrode. The CA pushes the bundle without the old root only once retire ran.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBundles } from '../helpers/bundle-stream.js';
import { makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const log = join(tempDir('ztmesh-retire-'), 'audit.log');
let ca: TestCaServer;
beforeAll(async () => {
  ca = await startCa({ args: ['--audit-log', log, '--max-ttl', '1h'] });
});
afterAll(async () => {
  await ca?.stop();
});

describe('ca root retire', () => {
  it('refuses while an old-root SVID is valid (by the log, then by activate\'s bound), and --force overrides', async () => {
    const id = 'spiffe://example.org/ns/default/sa/web';
    const res = await signCsr(ca.client(), makeCsr(id).csr, { token: await ca.mintToken(id), ttlSeconds: 1800 });
    // The CA logs "issued" after it answers, so the line may reach us after the response does.
    const notAfter = JSON.parse(await ca.process.waitFor(/"msg":"issued"/)) as { notAfter: string };
    expect(res.certChain).toHaveLength(1);
    expect((await runCli(['ca', 'root', 'prepare', '--dir', ca.dir])).code).toBe(0);
    // An activate --max-ttl below the SVID's lifetime: the log, which saw the SVID, knows better.
    const act = await runCli(['ca', 'root', 'activate', '--dir', ca.dir, '--max-ttl', '1m']);
    expect(act.code).toBe(0);
    const watcher = collectBundles(ca.client().WatchTrustBundle({}));
    expect((await watcher.next(1)).roots).toHaveLength(2);

    const byLog = await runCli(['ca', 'root', 'retire', '--dir', ca.dir, '--audit-log', log]);
    expect(byLog.code).toBe(1);
    expect(byLog.stderr).toContain(`may still be valid until ${notAfter.notAfter} (the issuance log shows 1 SVID(s) under the old root valid until ${notAfter.notAfter}`);
    expect(byLog.stderr).toMatch(/\(old_root_svids_valid\)$/m);

    const byActivate = await runCli(['ca', 'root', 'retire', '--dir', ca.dir]);
    expect(byActivate.code).toBe(1);
    expect(byActivate.stderr).toMatch(/no issuance log was given: activation at .* \+ max-ttl 60s.*\(old_root_svids_valid\)/);
    const status = await runCli(['ca', 'root', 'status', '--dir', ca.dir, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ step: 'activated', roots: [{ state: 'retiring' }, { state: 'active' }] });
    expect(watcher.seen).toHaveLength(1);

    const forced = await runCli(['ca', 'root', 'retire', '--dir', ca.dir, '--audit-log', log, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/--force: the issuance log shows 1 SVID\(s\) under the old root valid until .*; retiring anyway/);
    expect(forced.stdout).toMatch(/retired root\(s\) sha256:[0-9a-f]{16}…: bundle.pem is now sequence 3/);
    const pushed = await watcher.next(2);
    expect(pushed).toMatchObject({ sequence: '3' });
    expect(pushed.roots).toHaveLength(1);
  });
});
