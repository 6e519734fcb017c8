// The refusal-log budget: at most `max` lines per window, then the count of dropped lines rides on the next one.
import { describe, expect, it } from 'vitest';
import { KeyedLogThrottle, LogThrottle } from '../../../src/common/log-throttle.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('LogThrottle', () => {
  it('admits max lines per window, drops the rest and reports how many it dropped', async () => {
    const clock = new FakeClock();
    const t = new LogThrottle(clock, 3, 10_000);
    expect([t.admit(), t.admit(), t.admit()]).toEqual([0, 0, 0]);
    expect([t.admit(), t.admit()]).toEqual([undefined, undefined]);
    await clock.advance(9_999);
    expect(t.admit()).toBeUndefined();
    await clock.advance(1);
    expect(t.admit()).toBe(3);
    expect(t.admit()).toBe(0);
  });
});

describe('KeyedLogThrottle', () => {
  it('gives each key its own budget of 20 lines per 10 s', async () => {
    const clock = new FakeClock();
    const t = new KeyedLogThrottle(clock);
    const a = Array.from({ length: 25 }, () => t.admit('not_tls'));
    expect(a.filter((x) => x === 0)).toHaveLength(20);
    expect(a.filter((x) => x === undefined)).toHaveLength(5);
    expect(t.admit('spiffe_id_denied')).toBe(0); // another code is not held back by the flood of the first
    await clock.advance(10_000);
    expect(t.admit('not_tls')).toBe(5);
  });
});
