// The fleet view lasts: three sidecars get their certificates from a CA that keeps an issuance log; the CA restarts;
// `ztmesh ca status` on the restarted CA still lists all three (rebuilt from the log at start, before any renewal),
// and says where its view came from. A CA without a log says its view started empty.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

const IDS = ['web', 'api', 'batch'].map((sa) => `spiffe://example.org/ns/shop/sa/${sa}`);
const tmp = mkdtempSync(join(tmpdir(), 'ztmesh-ca-restart-'));
const auditLog = join(tmp, 'audit.log');
let ca: TestCaServer | undefined;
let restarted: TestCaServer | undefined;
const sidecars: TestSidecar[] = [];

beforeAll(async () => {
  ca = await startCa({ args: ['--audit-log', auditLog] });
  sidecars.push(...await Promise.all(IDS.map((spiffeId) => startSidecar({ ca, spiffeId }))));
  for (const sc of sidecars) await sc.waitForStatus((s) => s.identity.state === 'available');
  expect(await ca.stop()).toBe(0);
  restarted = await startCa({ dir: ca.dir, args: ['--audit-log', auditLog] });
}, 60_000);
afterAll(async () => {
  for (const sc of sidecars) await sc.stop();
  await restarted?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('ztmesh ca status after a CA restart', () => {
  it('lists the three sidecars that got their certificates before the restart', async () => {
    const serials = await Promise.all(sidecars.map(async (sc) => (await sc.status()).identity.serial));
    const r = await runCli(['ca', 'status', '--admin', restarted!.adminAddress, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.rebuiltFrom).toEqual({ auditLog, records: 3, identities: 3 });
    expect(report.identities.map((i: { spiffeId: string }) => i.spiffeId).sort()).toEqual([...IDS].sort());
    for (const [n, spiffeId] of IDS.entries()) {
      expect(report.identities.find((i: { spiffeId: string }) => i.spiffeId === spiffeId)).toMatchObject({ state: 'ok', method: 'join_token', serial: serials[n] });
    }
    const text = await runCli(['ca', 'status', '--admin', restarted!.adminAddress]);
    expect(text.stdout).toMatch(/: 3 SPIFFE IDs issued in the last 1d, 0 overdue$/m);
    expect(text.stdout).toContain(`rebuilt at its start from its issuance log ${auditLog} (3 issuances replayed)`);
    await restarted!.process.waitFor(/"msg":"fleet view rebuilt from the issuance log"/);
  });
});
