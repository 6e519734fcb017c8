// `ztmesh status` shows every rotation field to a person, prints raw JSON with --json, and exits as /readyz answers:
// 0 while the certificate is valid and trusted (a failing renewal is a warning), 2 when the admin cannot be read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar, WEB_ID } from '../helpers/sidecar.js';

describe('ztmesh status', () => {
  let ca: TestCaServer;
  let sc: TestSidecar;
  beforeAll(async () => {
    ca = await startCa();
    sc = await startSidecar({ ca });
    await sc.waitForStatus((s) => s.identity.state === 'available' && s.ca.bundleStream.connected);
  });
  afterAll(async () => {
    await sc?.stop();
    await ca?.stop();
  });

  it('exits 0 and shows the fields while available', async () => {
    const r = await runCli(['status', '--admin', sc.admin]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = await sc.status();
    for (const label of ['Identity', 'State', 'Serial', 'Valid from', 'Valid until', 'Next refresh', 'Last error', 'CA', 'Trust bundle']) {
      expect(r.stdout).toMatch(new RegExp(`^${label}\\s`, 'm'));
    }
    expect(r.stdout).toContain(WEB_ID);
    expect(r.stdout).toMatch(/^State\s+available$/m);
    expect(r.stdout).toContain(s.identity.serial!);
    expect(r.stdout).toMatch(/^Valid until\s+\S+Z \(in (59m|1h)/m);
    expect(r.stdout).toMatch(/^Last error\s+none$/m);
    expect(r.stdout).toMatch(/^CA\s+127\.0\.0\.1:\d+ reachable/m);
    expect(r.stdout).toContain(`sha256:${s.trustBundle!.roots[0]!.sha256.slice(0, 16)}`);
    const j = await runCli(['status', '--admin', sc.admin.replace('http://', ''), '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).identity.serial).toBe(s.identity.serial);
  });

  it('agrees with /readyz while a renewal fails but the certificate is valid: exit 0, the failure as a warning', async () => {
    await ca.stop();
    await sc.rotate();
    await sc.waitForStatus((s) => s.identity.state === 'unavailable');
    expect((await sc.readyz()).status).toBe(200);
    const r = await runCli(['status', '--admin', sc.admin]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^State\s+unavailable$/m);
    expect(r.stdout).toMatch(/^Ready\s+yes$/m);
    expect(r.stdout).toMatch(/^Warning\s+renewal failing \(unavailable, \d+ in a row\); the certificate stays valid until /m);
    expect(r.stdout).toMatch(/^Last error\s+unavailable: /m);
    expect(r.stdout).toMatch(/^CA\s+\S+ UNREACHABLE/m);
    expect(r.stdout).toMatch(/^Outage budget\s+\d/m);
    const j = await runCli(['status', '--admin', sc.admin, '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ identity: { state: 'unavailable' }, readiness: { ready: true, pending: [] } });
  });

  it('exits 2 when the admin cannot be reached', async () => {
    const r = await runCli(['status', '--admin', 'http://127.0.0.1:9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach the sidecar admin at http://127.0.0.1:9');
  });
});
