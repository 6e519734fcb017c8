// TickingSet (common/ticking-set.ts) on a manual clock: one timer only while it holds members, members removed by
// their handle or by a tick are not looked at again, a tick that throws does not stop the next, close stops all.
import { describe, expect, it } from 'vitest';
import { TickingSet } from '../../../src/common/ticking-set.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('TickingSet', () => {
  it('runs one timer while it holds members, and none once they are gone', async () => {
    const clock = new FakeClock();
    const seen: string[][] = [];
    const set = new TickingSet<string>(clock, 100, (live) => {
      seen.push([...live]);
      live.delete('b'); // a tick may drop members
    });
    expect(clock.pendingTimers()).toEqual([]);
    const dropA = set.add('a');
    set.add('b');
    expect(clock.pendingTimers()).toEqual([100]);
    await clock.advance(100);
    await clock.advance(100);
    expect(seen).toEqual([['a', 'b'], ['a']]);
    dropA();
    await clock.advance(100);
    expect(clock.pendingTimers()).toEqual([]);
    expect(set.size).toBe(0);
  });

  it('ticks on after a tick that throws, and stops for good once closed', async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const set = new TickingSet<number>(clock, 10, () => {
      ticks++;
      throw new Error('one bad tick');
    });
    set.add(1);
    await expect(clock.advance(10)).rejects.toThrow('one bad tick');
    expect(clock.pendingTimers()).toEqual([10]);
    set.close();
    expect(clock.pendingTimers()).toEqual([]);
    set.add(2);
    expect(clock.pendingTimers()).toEqual([]);
    expect(set.size).toBe(0);
    expect(ticks).toBe(1);
  });
});
