// The front door's admission, as a table of decisions: the bounds on unfinished handshakes (per source, then in total)
// cut the oldest, silent ones first, and the newcomer is admitted; where connections are bounded too (the CA), a source
// at its cap is refused, and at the total cap a handshake gives way until every held connection is established.
import { describe, expect, it } from 'vitest';
import { AdmissionTable, sourceKey, type AdmissionLimits } from '../../../src/front-door/admission.js';

/** The CA's shape: unfinished handshakes bounded by the same numbers as connections. */
const ca = (max: number, maxPerSource: number): AdmissionLimits => ({ maxPending: max, maxPendingPerSource: maxPerSource, connections: { max, maxPerSource } });
/** A sidecar inbound's shape: only unfinished handshakes are bounded. */
const inbound = { maxPending: 4, maxPendingPerSource: 2 };

/** A table that admitted `admits` in order, each "key@source". */
function admitted(limits: AdmissionLimits, ...admits: string[]): AdmissionTable<string> {
  const t = new AdmissionTable<string>(limits);
  for (const a of admits) {
    const [key, source] = a.split('@');
    t.admit(key!, source!);
  }
  return t;
}

describe('AdmissionTable with connection caps (the CA)', () => {
  it('refuses a source at its cap and admits it again when one of its connections closes', () => {
    const t = new AdmissionTable<string>(ca(10, 2));
    expect(t.admit('a1', 'A')).toEqual({ ok: true });
    expect(t.admit('a2', 'A')).toEqual({ ok: true });
    expect(t.admit('a3', 'A')).toEqual({ ok: false, reason: 'source_connection_limit' });
    expect(t.admit('b1', 'B')).toEqual({ ok: true });
    t.establish('a1'); // established connections count against the source too
    expect(t.admit('a3', 'A')).toEqual({ ok: false, reason: 'source_connection_limit' });
    t.remove('a1');
    t.remove('a1'); // idempotent
    expect(t.admit('a3', 'A')).toEqual({ ok: true });
    expect(t.counts()).toEqual({ handshaking: 3, established: 0, sources: 2 });
  });

  it('at the total cap cuts the oldest handshake for the newcomer, and refuses only when all are established', () => {
    const t = admitted(ca(3, 10), 'old@A', 'mid@B', 'new@C');
    t.establish('old');
    expect(t.admit('x', 'D')).toEqual({ ok: true, cut: { key: 'mid', bound: 'listener', limit: 3 } });
    expect(t.isPending('mid')).toBe(false);
    expect(t.counts()).toEqual({ handshaking: 2, established: 1, sources: 3 });
    t.establish('new');
    t.establish('x');
    expect(t.admit('y', 'E')).toEqual({ ok: false, reason: 'connection_limit' });
    t.remove('x');
    expect(t.admit('y', 'E')).toEqual({ ok: true });
    expect(t.size).toBe(3);
  });

  it('cuts every silent connection before one that has started its handshake, oldest first in each group', () => {
    const t = admitted(ca(3, 10), 'client@A');
    t.spoke('client'); // a real client's ClientHello arrived; its handshake is under way
    t.admit('s1', 'B');
    t.admit('s2', 'C');
    expect(t.admit('s3', 'D')).toMatchObject({ ok: true, cut: { key: 's1' } });
    expect(t.admit('s4', 'E')).toMatchObject({ ok: true, cut: { key: 's2' } });
    expect(t.isPending('client')).toBe(true);
    t.spoke('s3');
    t.spoke('s4');
    // No silent connection left: now the handshake that started first goes.
    expect(t.admit('s5', 'F')).toMatchObject({ ok: true, cut: { key: 'client' } });
    expect(t.counts()).toEqual({ handshaking: 3, established: 0, sources: 3 });
  });
});

describe('AdmissionTable with handshake bounds only (a sidecar inbound)', () => {
  it('admits without cutting anything while both bounds have room', () => {
    const t = new AdmissionTable<string>(inbound);
    expect(t.admit('a1', 'A')).toEqual({ ok: true });
    expect(t.admit('a2', 'A')).toEqual({ ok: true });
    expect(t.admit('b1', 'B')).toEqual({ ok: true });
    expect(t.pendingCount).toBe(3);
  });

  it('at the per-source bound, cuts the oldest of that source only', () => {
    const t = admitted(inbound, 'a1@A', 'b1@B', 'a2@A');
    expect(t.admit('a3', 'A')).toEqual({ ok: true, cut: { key: 'a1', bound: 'source', limit: 2 } });
    expect(t.admit('a4', 'A')).toEqual({ ok: true, cut: { key: 'a2', bound: 'source', limit: 2 } });
    expect(t.pendingCount).toBe(3);
    expect(t.admit('b2', 'B')).toEqual({ ok: true });
  });

  it('at the per-source bound, a silent one of that source goes before one whose handshake is under way', () => {
    const t = admitted(inbound, 'a1@A');
    t.spoke('a1');
    t.admit('a2', 'A');
    expect(t.admit('a3', 'A')).toMatchObject({ cut: { key: 'a2', bound: 'source' } });
  });

  it('at the listener bound, cuts the oldest of any source', () => {
    const t = admitted(inbound, 'a1@A', 'b1@B', 'c1@C', 'd1@D');
    expect(t.admit('e1', 'E')).toEqual({ ok: true, cut: { key: 'a1', bound: 'listener', limit: 4 } });
    expect(t.admit('f1', 'F')).toEqual({ ok: true, cut: { key: 'b1', bound: 'listener', limit: 4 } });
    expect(t.pendingCount).toBe(4);
  });

  it('a source at its own bound gives way itself rather than taking a slot from another source', () => {
    const t = admitted({ maxPending: 3, maxPendingPerSource: 2 }, 'b1@B', 'a1@A', 'a2@A');
    expect(t.admit('a3', 'A')).toEqual({ ok: true, cut: { key: 'a1', bound: 'source', limit: 2 } });
    expect(t.pendingCount).toBe(3);
  });

  it('forgets an established connection, and remove frees both bounds and ignores unknown or repeated keys', () => {
    const t = admitted(inbound, 'a1@A', 'a2@A');
    t.establish('a1');
    expect(t.counts()).toEqual({ handshaking: 1, established: 0, sources: 1 });
    t.remove('a1');
    t.remove('zz');
    expect(t.admit('a3', 'A')).toEqual({ ok: true });
    t.remove('a2');
    t.remove('a3');
    t.remove('a3');
    expect(t.counts()).toEqual({ handshaking: 0, established: 0, sources: 0 });
  });

  it('a bound of one per source still works (the source empties and is rebuilt)', () => {
    const t = admitted({ maxPending: 4, maxPendingPerSource: 1 }, 'a1@A');
    expect(t.admit('a2', 'A')).toEqual({ ok: true, cut: { key: 'a1', bound: 'source', limit: 1 } });
    expect(t.admit('a3', 'A')).toEqual({ ok: true, cut: { key: 'a2', bound: 'source', limit: 1 } });
    expect(t.pendingCount).toBe(1);
  });

  it('lists the unfinished handshakes, silent ones first', () => {
    const t = admitted(inbound, 'a1@A', 'b1@B');
    t.spoke('a1');
    expect([...t.pending()]).toEqual(['b1', 'a1']);
  });
});

it('counts an IPv4-mapped IPv6 peer as its IPv4 source', () => {
  expect(sourceKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
  expect(sourceKey('10.1.2.3')).toBe('10.1.2.3');
  expect(sourceKey('FD00::1')).toBe('fd00::1');
});
