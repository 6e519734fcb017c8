import { describe, expect, it } from 'vitest';
import { IssuedIdentities } from '../../../../src/ca/audit/issued-ids.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const HOUR = 3_600_000;
const id = (n: number) => `spiffe://td/ns/a/sa/s${n}`;

function tracker(opts: { maxIds?: number; windowMs?: number } = {}) {
  const clock = new FakeClock();
  const t = new IssuedIdentities({ clock, windowMs: opts.windowMs ?? 24 * HOUR, replica: 'r', ...(opts.maxIds ? { maxIds: opts.maxIds } : {}) });
  const issue = (spiffeId: string, ttlMs = HOUR, method = 'renewal') => t.record({ spiffeId, serial: `s-${clock.now()}`, method, peer: '10.0.0.1:1', atMs: clock.now(), notAfterMs: clock.now() + ttlMs });
  return { clock, t, issue };
}

describe('IssuedIdentities', () => {
  it('an ID is ok until 55% of its lifetime, overdue after, expired past notAfter', async () => {
    const { clock, t, issue } = tracker();
    issue(id(1), 100_000);
    await clock.advance(54_999);
    expect(t.report().identities[0]!.state).toBe('ok');
    await clock.advance(1);
    expect(t.report().identities[0]!.state).toBe('overdue');
    await clock.advance(45_000);
    expect(t.report().identities[0]!.state).toBe('expired');
  });

  it('a renewal makes it ok again and counts issuances of the last hour only', async () => {
    const { clock, t, issue } = tracker();
    issue(id(1), HOUR, 'join_token');
    for (let i = 0; i < 3; i++) {
      await clock.advance(20 * 60_000);
      issue(id(1));
    }
    let row = t.report().identities[0]!;
    expect(row).toMatchObject({ state: 'ok', method: 'renewal', issuancesLastHour: 3 });
    await clock.advance(50 * 60_000);
    row = t.report().identities[0]!;
    expect(row.issuancesLastHour).toBe(1);
    await clock.advance(2 * HOUR);
    expect(t.report().identities[0]!.issuancesLastHour).toBe(0);
  });

  it('orders overdue first, then ok by expiry, expired last', async () => {
    const { clock, t, issue } = tracker();
    issue(id(1), 10_000); // expires first
    issue(id(2), HOUR);
    issue(id(3), 30 * 60_000);
    issue(id(4), 100_000);
    await clock.advance(60_000);
    expect(t.report().identities.map((i) => [i.spiffeId, i.state])).toEqual([
      [id(4), 'overdue'], [id(3), 'ok'], [id(2), 'ok'], [id(1), 'expired'],
    ]);
  });

  it('forgets IDs issued before the window, and holds at most maxIds, counting what it dropped', async () => {
    const { clock, t, issue } = tracker({ maxIds: 3, windowMs: HOUR });
    for (let n = 1; n <= 5; n++) issue(id(n));
    let r = t.report();
    expect(r).toMatchObject({ limit: 3, tracked: 3, evicted: 2 });
    expect(r.identities.map((i) => i.spiffeId).sort()).toEqual([id(3), id(4), id(5)]);
    await clock.advance(HOUR + 1);
    issue(id(9));
    r = t.report();
    expect(r.identities.map((i) => i.spiffeId)).toEqual([id(9)]);
  });
});
