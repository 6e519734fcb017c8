// A certificate that no longer chains to the bundle is not healthy. After `ca root retire --force` while the
// sidecar still holds an SVID of the old root, the new bundle makes it `untrusted` at once: not ready, `ztmesh
// status` exits 1, and it renews right away (trigger `untrusted`). Its join token is spent, so the CA refuses it and
// the sidecar says, in one line, what to run; dropping a new token into its token file recovers it without a restart.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { startSidecar, WEB_ID, type TestSidecar } from '../helpers/sidecar.js';

let ca: TestCaServer;
let sc: TestSidecar;
beforeAll(async () => {
  ca = await startCa();
  sc = await startSidecar({ ca });
  await sc.waitForStatus((s) => s.identity.state === 'available' && s.trustBundle?.source === 'ca');
});
afterAll(async () => {
  await sc?.stop();
  await ca?.stop();
});

describe('a sidecar whose root was retired by force', () => {
  it('is untrusted and not ready at once, renews, says what to run, and recovers when a new token is dropped in', async () => {
    const oldSerial = (await sc.status()).identity.serial;
    const cli = async (...args: string[]) => {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
    };
    await cli('ca', 'root', 'prepare', '--dir', ca.dir);
    await sc.waitForStatus((s) => s.trustBundle!.roots.length === 2);
    await cli('ca', 'root', 'activate', '--dir', ca.dir);
    await ca.process.waitFor(/signing certificate switched/);
    await cli('ca', 'root', 'retire', '--dir', ca.dir, '--force');

    const s = await sc.waitForStatus((x) => x.identity.state === 'untrusted' && x.identity.actionNeeded != null);
    expect(s.trustBundle!.roots).toHaveLength(1);
    expect(s.identity.serial).toBe(oldSerial);
    expect(s.readiness).toEqual({ ready: false, pending: ['identity (untrusted)'] });
    expect((await sc.readyz(sc.health)).status).toBe(503);
    const untrusted = JSON.parse(await sc.proc.waitFor(/"event":"untrusted"/));
    expect(untrusted).toMatchObject({ code: 'svid_untrusted', serial: oldSerial });
    const renewal = JSON.parse(await sc.proc.waitFor(/"event":"rotation_failed".*"trigger":"untrusted"/));
    expect(renewal).toMatchObject({ caReached: true, caCode: 'token_reused', state: 'untrusted' });
    expect(renewal.reason).toBeUndefined();

    const tokenFile = join(sc.dir, 'token');
    const r = await runCli(['status', '--admin', sc.admin]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^State\s+untrusted$/m);
    expect(r.stdout).toMatch(/^Ready\s+no: identity \(untrusted\)$/m);
    const action = r.stdout.split('\n').filter((l) => l.startsWith('Action needed'));
    expect(action).toEqual([`Action needed  stranded: the certificate no longer chains to the trust bundle and the CA refuses the join token in ${tokenFile} (token_reused); `
      + `mint a new one, which the sidecar picks up without a restart: ztmesh ca token create --dir <the CA's --dir> --spiffe-id ${WEB_ID} --out ${tokenFile}`]);
    expect(JSON.parse(await sc.proc.waitFor(/"event":"stranded"/))).toMatchObject({ level: 'error', code: 'token_reused', tokenFile });

    // What the line says to do: a new join token in the token file, replaced atomically as `--out` writes it. It is
    // dropped in while the next backoff retry is seconds away, so that the recovery is the token file's doing.
    await sc.waitForStatus((x) => Date.parse(x.identity.refreshAt!) - Date.now() >= 3_000, 20_000);
    writeFileSync(`${tokenFile}.new`, `${await ca.mintToken(WEB_ID)}\n`, { mode: 0o600 });
    renameSync(`${tokenFile}.new`, tokenFile);
    const after = await sc.waitForStatus((x) => x.identity.state === 'available', 10_000);
    expect(after.identity.serial).not.toBe(oldSerial);
    expect(after.identity.history.at(-1)!.trigger).toBe('token_changed');
    expect(after.identity.actionNeeded).toBeNull();
    expect((await sc.readyz(sc.health)).status).toBe(200);
    expect((await runCli(['status', '--admin', sc.admin])).code).toBe(0);
  }, 60_000);
});
