// Per-identity token bucket driven by the fake clock.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../../src/ca/signing/rate-limit.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

describe('RateLimiter', () => {
  it('allows a burst, refuses with rate_limited, refills with time, per identity', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(2, 3, clock);
    for (let i = 0; i < 3; i++) rl.take('a');
    expect(() => rl.take('a')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    rl.take('b'); // another identity has its own bucket
    await clock.advance(499);
    expect(() => rl.take('a')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    await clock.advance(1);
    rl.take('a');
    await clock.advance(60_000);
    for (let i = 0; i < 3; i++) rl.take('a'); // refills up to the burst, not beyond
    expect(() => rl.take('a')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });

  it('is off at 0 per second', () => {
    const rl = new RateLimiter(0, 1, new FakeClock());
    for (let i = 0; i < 1000; i++) rl.take('a');
  });
});
