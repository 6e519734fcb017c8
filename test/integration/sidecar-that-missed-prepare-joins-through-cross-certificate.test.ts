// A sidecar that was down through `prepare` and `activate` starts with a stale bootstrap bundle (the old root only).
// Between activate and retire the CA sends the cross-certificate after its own certificate and after every SVID, so
// the sidecar still verifies the CA, takes the new root (vouched for by the old), and gets a certificate. After
// retire the bridge is gone: a sidecar with only the old root must be bootstrapped again (docs/ca.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certFingerprint, fromPemAll } from '../../src/pki/index.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

let ca: TestCaServer;
const sidecars: TestSidecar[] = [];
beforeAll(async () => {
  ca = await startCa();
});
afterAll(async () => {
  for (const s of sidecars) await s.stop();
  await ca?.stop();
});

describe('a sidecar with only the old root', () => {
  it('joins after activate through the cross-certificate, and cannot once the old root is retired', async () => {
    const oldRootPem = ca.bundlePem;
    expect((await runCli(['ca', 'root', 'prepare', '--dir', ca.dir])).code).toBe(0);
    expect((await runCli(['ca', 'root', 'activate', '--dir', ca.dir, '--max-ttl', '1h'])).code).toBe(0);
    await ca.process.waitFor(/signing certificate switched/);

    const late = await startSidecar({ ca, bundlePem: oldRootPem });
    sidecars.push(late);
    const s = await late.waitForStatus((st) => st.identity.state === 'available' && st.trustBundle?.source === 'ca');
    expect(s.trustBundle!.roots).toHaveLength(2);
    expect(s.trustBundle!.lastRefusal).toBeNull();
    const certs = (await late.get('/certs')).text;
    expect(fromPemAll(certs.slice(0, certs.indexOf('# trust bundle')))).toHaveLength(2); // leaf + bridge

    const retired = await runCli(['ca', 'root', 'retire', '--dir', ca.dir, '--force']);
    expect(retired.code, retired.stderr).toBe(0);
    // The sidecar that joined follows the retire like any other.
    const status = JSON.parse((await runCli(['ca', 'root', 'status', '--dir', ca.dir, '--json'])).stdout) as { roots: { sha256: string }[] };
    const after = await late.waitForStatus((st) => st.trustBundle!.roots.length === 1);
    expect(after.trustBundle!.roots.map((r) => r.sha256)).toEqual(status.roots.map((r) => r.sha256));

    const tooLate = await startSidecar({ ca, bundlePem: oldRootPem });
    sidecars.push(tooLate);
    const t = await tooLate.waitForStatus((st) => st.identity.lastError !== null);
    expect(t.identity).toMatchObject({ state: 'initializing', lastError: { code: 'ca_untrusted', message: expect.stringMatching(/certificate/) } });
    expect(t.trustBundle).toMatchObject({ source: 'file', roots: [{ sha256: certFingerprint(fromPemAll(oldRootPem)[0]!) }] });
  });
});
