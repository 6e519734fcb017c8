import { describe, expect, it } from 'vitest';
import { Watchable } from '../../../src/common/watchable.js';
import { Readiness } from '../../../src/common/readiness.js';

describe('Watchable', () => {
  it('gives a late subscriber the current value at once, then every change, until unsubscribed', () => {
    const w = new Watchable(1);
    w.set(2);
    const seen: number[] = [];
    const off = w.subscribe((v) => seen.push(v));
    w.set(3);
    off();
    w.set(4);
    expect(seen).toEqual([2, 3]);
    expect(w.get()).toBe(4);
  });
});

describe('Readiness', () => {
  it('is ready only when no registered part is pending', () => {
    const r = new Readiness();
    const a = r.register('svid');
    const b = r.register('listener api');
    expect(r.isReady()).toBe(false);
    expect(r.pendingParts()).toEqual(['listener api', 'svid']);
    a.ready();
    b.ready();
    expect(r.isReady()).toBe(true);
    a.notReady();
    expect(r.pendingParts()).toEqual(['svid']);
  });
});
