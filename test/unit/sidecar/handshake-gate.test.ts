// The bounds on unfinished handshakes: at a full bound, the oldest of the newcomer's source, else of the
// listener, gives way; the newcomer is always admitted.
import { describe, expect, it } from 'vitest';
import { PendingHandshakes } from '../../../src/sidecar/handshake-gate.js';

const limits = { maxPending: 4, maxPendingPerSource: 2 };

describe('PendingHandshakes', () => {
  it('admits without cutting anything while both bounds have room', () => {
    const g = new PendingHandshakes<string>(limits);
    expect(g.admit('a1', 'A')).toBeUndefined();
    expect(g.admit('a2', 'A')).toBeUndefined();
    expect(g.admit('b1', 'B')).toBeUndefined();
    expect(g.size).toBe(3);
  });

  it('at the per-source bound, cuts the oldest of that source only', () => {
    const g = new PendingHandshakes<string>(limits);
    g.admit('a1', 'A');
    g.admit('b1', 'B');
    g.admit('a2', 'A');
    expect(g.admit('a3', 'A')).toEqual({ key: 'a1', bound: 'source', limit: 2 });
    expect(g.admit('a4', 'A')).toEqual({ key: 'a2', bound: 'source', limit: 2 });
    expect(g.size).toBe(3);
    expect(g.admit('b2', 'B')).toBeUndefined();
  });

  it('at the listener bound, cuts the oldest of any source', () => {
    const g = new PendingHandshakes<string>(limits);
    for (const [k, src] of [['a1', 'A'], ['b1', 'B'], ['c1', 'C'], ['d1', 'D']] as const) g.admit(k, src);
    expect(g.admit('e1', 'E')).toEqual({ key: 'a1', bound: 'listener', limit: 4 });
    expect(g.admit('f1', 'F')).toEqual({ key: 'b1', bound: 'listener', limit: 4 });
    expect(g.size).toBe(4);
  });

  it('a source at its own bound gives way itself rather than taking a slot from another source', () => {
    const g = new PendingHandshakes<string>({ maxPending: 3, maxPendingPerSource: 2 });
    g.admit('b1', 'B');
    g.admit('a1', 'A');
    g.admit('a2', 'A');
    expect(g.admit('a3', 'A')).toEqual({ key: 'a1', bound: 'source', limit: 2 });
    expect(g.size).toBe(3);
  });

  it('release frees both bounds and ignores unknown or repeated keys', () => {
    const g = new PendingHandshakes<string>(limits);
    g.admit('a1', 'A');
    g.admit('a2', 'A');
    g.release('a1');
    g.release('a1');
    g.release('zz');
    expect(g.size).toBe(1);
    expect(g.admit('a3', 'A')).toBeUndefined();
    g.release('a2');
    g.release('a3');
    expect(g.size).toBe(0);
  });

  it('a bound of one per source still works (the set empties and is rebuilt)', () => {
    const g = new PendingHandshakes<string>({ maxPending: 4, maxPendingPerSource: 1 });
    g.admit('a1', 'A');
    expect(g.admit('a2', 'A')).toEqual({ key: 'a1', bound: 'source', limit: 1 });
    expect(g.admit('a3', 'A')).toEqual({ key: 'a2', bound: 'source', limit: 1 });
    expect(g.size).toBe(1);
  });
});
