// A sidecar with a 12-second TTL renews by itself at half-life (within the ±10% jitter), and POST /rotate forces
// another renewal; every rotation has a new serial and a new key, and /readyz stays 200 throughout.
// The CA is started with --min-ttl 1s (its default floor is 60 s), so the renewal is due 5.4–6.6 s after issuance
// rather than 27–33 s: the same rule, checked in a fifth of the wall time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar, WEB_ID } from '../helpers/sidecar.js';
import { until } from '../helpers/until.js';

/** Long enough for a loaded machine to issue and serve well inside it; short enough to wait for its half-life. */
const TTL = '12s';
/** /readyz is asked this often from the first SVID to the last check: a not-ready gap of more than this is seen. */
const READYZ_EVERY_MS = 50;

describe('sidecar renews at half-life', () => {
  let ca: TestCaServer;
  let sc: TestSidecar;
  beforeAll(async () => {
    ca = await startCa({ args: ['--min-ttl', '1s'] });
    sc = await startSidecar({ ca, ttl: TTL });
  });
  afterAll(async () => {
    await sc?.stop();
    await ca?.stop();
  });

  it('renews at half-life ±10%, then on POST /rotate, staying ready', async () => {
    const first = await sc.waitForStatus((s) => s.identity.state === 'available');
    expect(first.identity.spiffeId).toBe(WEB_ID);
    const readyCodes: number[] = [];
    const poll = setInterval(() => {
      void sc.readyz().then((r) => readyCodes.push(r.status), () => readyCodes.push(-1));
    }, READYZ_EVERY_MS);
    try {
      const renewed = await sc.waitForStatus((s) => s.identity.rotations >= 2, 15_000);
      // /status counts the rotation before its log line has reached us through the sidecar's stdout: wait for the line.
      await sc.proc.waitFor(/"event":"rotation".*"trigger":"refresh"|"trigger":"refresh".*"event":"rotation"/);
      const rot = sc.proc.json().filter((l) => l.event === 'rotation');
      expect(rot.map((l) => l.trigger)).toEqual(['initial', 'refresh']);
      expect(rot.map((l) => l.method)).toEqual(['join_token', 'renewal']);
      // The renewal point: half of the lifetime counted from receipt (notBefore is backdated), ±10%.
      const receivedMs = Date.parse(String(rot[0]!.time));
      const notAfterMs = Date.parse(String(rot[0]!.notAfter));
      const refreshAtMs = Date.parse(String(rot[0]!.refreshAt));
      const life = notAfterMs - receivedMs;
      expect(refreshAtMs - receivedMs).toBeGreaterThanOrEqual(life * 0.45 - 50);
      expect(refreshAtMs - receivedMs).toBeLessThanOrEqual(life * 0.55 + 50);
      const renewedAtMs = Date.parse(String(rot[1]!.time));
      expect(renewedAtMs).toBeGreaterThanOrEqual(refreshAtMs);
      expect(renewedAtMs - refreshAtMs).toBeLessThan(2_000);
      console.log(`half-life renewal: lifetime ${life} ms, renewed ${renewedAtMs - receivedMs} ms after issuance (window ${Math.round(life * 0.45)}–${Math.round(life * 0.55)} ms), ${renewedAtMs - refreshAtMs} ms after its refresh point`);
      expect(renewed.identity.state).toBe('available');

      const forced = await sc.rotate();
      expect(forced.status).toBe(200);
      expect(forced.body.rotated).toBe(true);
      const after = await sc.status();
      expect(after.identity.rotations).toBe(3);
      const h = after.identity.history;
      expect(h.map((r) => r.trigger)).toEqual(['initial', 'refresh', 'forced']);
      expect(new Set(h.map((r) => r.serial)).size).toBe(3);
      expect(new Set(h.map((r) => r.publicKeySha256)).size).toBe(3);
      expect(after.identity.serial).toBe(forced.body.serial);
      for (let i = 1; i < h.length; i++) {
        // Serials are random (128-bit), so "newer" is read from the issuance order: at strictly grows, notBefore never falls.
        expect(Date.parse(h[i]!.at)).toBeGreaterThan(Date.parse(h[i - 1]!.at));
        expect(Date.parse(h[i]!.notBefore)).toBeGreaterThanOrEqual(Date.parse(h[i - 1]!.notBefore));
      }
      // Renewals were authenticated by the current SVID, not the (single-use) join token.
      // The CA logs "issued" after it answers: the last line may still be on its way.
      const issued = () => ca.process.json().filter((l) => l.msg === 'issued' && l.spiffeId === WEB_ID);
      await until(() => issued().length >= 3);
      const methods = issued().map((l) => l.method);
      expect(methods).toEqual(['join_token', 'renewal', 'renewal']);
    } finally {
      clearInterval(poll);
    }
    expect(readyCodes.length).toBeGreaterThan(50);
    expect(readyCodes.every((c) => c === 200)).toBe(true);
  }, 30_000);
});
