// Kill the CA: the sidecar keeps its last good SVID and stays ready, failures grow, ca.reachable turns false and
// the outage budget counts down. Restart the CA on the same address: the next renewal succeeds (by SVID).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { until } from '../helpers/until.js';

describe('sidecar rides out a CA outage', () => {
  let ca: TestCaServer;
  let sc: TestSidecar;
  beforeAll(async () => {
    ca = await startCa();
    sc = await startSidecar({ ca, ttl: '10m' });
  });
  afterAll(async () => {
    await sc?.stop();
    await ca?.stop();
  });

  it('stays ready through the outage and renews once the CA is back', async () => {
    const before = await sc.waitForStatus((s) => s.identity.state === 'available' && s.ca.reachable && s.ca.bundleStream.connected);
    expect(before.outageBudgetSeconds).toBeNull();
    const address = ca.address;
    await ca.stop();

    // The broken bundle stream shows the CA unreachable before any renewal is due.
    const down = await sc.waitForStatus((s) => !s.ca.reachable);
    expect(down.identity.state).toBe('available');
    expect(down.outageBudgetSeconds).toBeGreaterThan(500);

    // Renewal attempts fail; the last good SVID stays and so does readiness.
    const r1 = await sc.rotate();
    expect(r1.status).toBe(503);
    expect(r1.body).toMatchObject({ rotated: false, error: { code: 'unavailable' } });
    await sc.rotate();
    const during = await sc.waitForStatus((s) => s.identity.consecutiveFailures >= 2);
    expect(during.identity.state).toBe('unavailable');
    expect(during.identity.serial).toBe(before.identity.serial);
    expect(during.identity.lastError?.code).toBe('unavailable');
    expect(during.ca.reachable).toBe(false);
    expect((await sc.readyz()).status).toBe(200);
    expect((await sc.readyz(sc.health)).status).toBe(200);
    const failures = sc.proc.json().filter((l) => l.event === 'rotation_failed');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toMatchObject({ code: 'unavailable', ca: address });

    // The budget counts down with the wall clock.
    const b1 = during.outageBudgetSeconds!;
    const later = await sc.waitForStatus((s) => s.outageBudgetSeconds !== null && s.outageBudgetSeconds < b1, 5_000);
    expect(later.outageBudgetSeconds).toBeLessThan(b1);
    expect(later.outageBudgetSeconds).toBeGreaterThan(b1 - 10);

    // Same address again; the backoff retry (or the stream reconnect) finds it.
    ca = await startCa({ dir: ca.dir, args: ['--listen', address] });
    const back = await sc.waitForStatus((s) => s.identity.state === 'available' && s.identity.rotations === 2, 40_000);
    expect(back.identity.consecutiveFailures).toBe(0);
    expect(back.identity.lastError).toBeNull();
    expect(back.identity.serial).not.toBe(before.identity.serial);
    expect(back.ca.reachable).toBe(true);
    expect(back.outageBudgetSeconds).toBeNull();
    expect(back.identity.history.at(-1)!.trigger).toBe('retry');
    // Renewed with the SVID it kept: the join token was single-use.
    // The CA logs "issued" after it answers: the line may still be on its way.
    await until(() => ca.process.json().some((l) => l.msg === 'issued'));
    const issued = ca.process.json().filter((l) => l.msg === 'issued');
    expect(issued.map((l) => l.method)).toEqual(['renewal']);
  }, 60_000);
});
