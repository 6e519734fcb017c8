// A root rotation's "every sidecar holds both roots" step, checked with one command: `ztmesh ca status` shows, per
// SPIFFE ID, the trust-bundle version each of its sidecars acknowledged on the mesh stream, and how many of the live
// streams hold the version the CA serves. Three real sidecars follow `ca root prepare` to the new sequence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentitiesReport } from '../../src/ca/audit/issued-ids.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

const IDS = ['web', 'api', 'batch'].map((sa) => `spiffe://example.org/ns/shop/sa/${sa}`);
let ca: TestCaServer;
const sidecars: TestSidecar[] = [];

const identities = async () => (await (await fetch(`http://${ca.adminAddress}/identities`)).json()) as IdentitiesReport;

/** The X.509 sequence of a trust-bundle version: "7", or "7.3f9a1c2b7d0e" when it carries JWT authorities (mesh/kinds.ts). */
const sequenceOf = (version: string) => Number(version.split('.')[0]);

/**
 * Reads GET /identities until the CA serves a bundle of X.509 sequence `sequence` and every sidecar's stream
 * acknowledged that version; returns the last report after 20 s (the checks that follow then say what differs).
 */
async function untilAcked(sequence: number): Promise<IdentitiesReport> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await identities();
    const served = r.trustBundle?.version;
    const acked = served !== undefined && sequenceOf(served) === sequence && IDS.every((id) => r.bundleAcks?.[id]?.every((v) => v === served));
    if (acked || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  ca = await startCa();
  sidecars.push(...await Promise.all(IDS.map((spiffeId) => startSidecar({ ca, spiffeId }))));
  for (const sc of sidecars) await sc.waitForStatus((s) => s.identity.state === 'available' && s.trustBundle?.source === 'ca');
}, 60_000);
afterAll(async () => {
  for (const sc of sidecars) await sc.stop();
  await ca?.stop();
});

describe('ztmesh ca status and the trust bundle', () => {
  it('shows the version each sidecar acknowledged, and every one on the new sequence after ca root prepare', async () => {
    const before = await untilAcked(sequenceOf((await identities()).trustBundle!.version));
    const first = before.trustBundle!.version;
    expect(sequenceOf(first)).toBeGreaterThan(0);
    expect(before.trustBundle).toEqual({ version: first, streams: 3, acked: { [first]: 3 } });

    expect((await runCli(['ca', 'root', 'prepare', '--dir', ca.dir])).code).toBe(0);
    const after = await untilAcked(sequenceOf(first) + 1);
    const next = after.trustBundle!.version;
    expect(sequenceOf(next)).toBe(sequenceOf(first) + 1);
    expect(after.trustBundle).toEqual({ version: next, streams: 3, acked: { [next]: 3 } });
    for (const id of IDS) expect(after.bundleAcks![id]).toEqual([next]);
    for (const sc of sidecars) expect((await sc.status()).trustBundle!.roots).toHaveLength(2);

    const r = await runCli(['ca', 'status', '--admin', ca.adminAddress]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Trust bundle sequence ${next}: acknowledged by 3 of 3 live mesh stream(s) to this replica.`);
    for (const id of IDS) expect(r.stdout).toMatch(new RegExp(`^ok\\s+${id}\\s+join_token\\s+\\S+\\s+in \\S+\\s+in \\S+\\s+1\\s+${next}\\s`, 'm'));
  }, 60_000);
});
