// The bounded top counter: exact while it holds every key, never loses a heavy key, never holds more than its capacity.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopCounter } from '../../../src/common/top-counter.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('TopCounter', () => {
  it('counts exactly while it holds every key, most first', () => {
    const t = new TopCounter(4, new FakeClock());
    for (const k of ['a', 'b', 'a', 'c', 'a', 'b']) t.add(k);
    expect(t.top(2).map((e) => [e.key, e.count, e.error])).toEqual([['a', 3, 0], ['b', 2, 0]]);
  });

  it('keeps a key that makes up more than 1/capacity of everything, in bounded memory', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 300 }), fc.integer({ min: 1, max: 200 }), (noise, heavy) => {
      const t = new TopCounter(8, new FakeClock());
      const stream = [...noise, ...Array<number>(heavy).fill(999)];
      for (const k of stream) t.add(String(k));
      expect(t.top(100).length).toBeLessThanOrEqual(8);
      if (heavy > stream.length / 8) expect(t.top(100).map((e) => e.key)).toContain('999');
      for (const e of t.top(100)) expect(e.count - e.error).toBeLessThanOrEqual(stream.filter((k) => String(k) === e.key).length);
    }));
  });
});
