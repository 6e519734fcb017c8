// Outside Kubernetes a join token works once. With identity.stateDir the sidecar keeps its SVID and key there, so a
// restart is `available` again with no new token: it renews with the kept SVID (the CA's audit log says `renewal`).
// Without a state dir the same restart is stuck on the used token.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, WEB_ID } from '../helpers/sidecar.js';
import { until } from '../helpers/until.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('sidecar restart with a state directory', () => {
  let ca: TestCaServer;
  beforeAll(async () => { ca = await startCa(); });
  afterAll(async () => { await ca?.stop(); });

  const issued = () => ca.process.json().filter((l) => l.component === 'audit' && l.msg === 'issued' && l.spiffeId === WEB_ID);

  it('comes back available with the used token, renewing by SVID', async () => {
    const stateDir = join(tempDir('ztmesh-state-'), 'web');
    const first = await startSidecar({ ca, args: ['--state-dir', stateDir] });
    const before = await first.waitForStatus((s) => s.identity.state === 'available');
    // The SVID is kept just after it is published: wait for the file, not for a time.
    await until(() => existsSync(join(stateDir, 'svid.pem')));
    expect(statSync(join(stateDir, 'svid.key')).mode & 0o777).toBe(0o600);
    expect(await first.stop()).toBe(0);
    const issuedBefore = issued().length;

    // The same (now used) token: only the kept SVID can bring it back.
    const again = await startSidecar({ ca, token: first.token, args: ['--state-dir', stateDir] });
    try {
      const after = await again.waitForStatus((s) => s.identity.state === 'available' && s.identity.rotations === 1);
      expect(after.identity.serial).not.toBe(before.identity.serial);
      expect(after.identity.lastError).toBeNull();
      // The CA logs "issued" after it answers (and waitFor would match the first issuance's line): wait for the new one.
      await until(() => issued().length > issuedBefore);
      const renewal = issued().slice(issuedBefore);
      expect(renewal).toHaveLength(1);
      expect(renewal[0]).toMatchObject({ method: 'renewal', serial: after.identity.serial });
      expect(again.proc.json().some((l) => l.event === 'restored')).toBe(true);
    } finally {
      await again.stop();
    }
  });

  it('without a state directory the restarted sidecar has only the used token and stays initializing', async () => {
    const first = await startSidecar({ ca });
    await first.waitForStatus((s) => s.identity.state === 'available');
    await first.stop();
    const again = await startSidecar({ ca, token: first.token });
    try {
      const s = await again.waitForStatus((x) => x.identity.lastError !== null);
      expect(s.identity.state).toBe('initializing');
      expect(s.identity.lastError?.code).toBe('permission_denied');
      expect(s.ca.refusal?.code).toBe('token_reused');
    } finally {
      await again.stop();
    }
  });
});
