// The refusal-log budget: at most `max` lines per window, then the count of dropped lines rides on the next one.
import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../../src/common/log-throttle.js';
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
