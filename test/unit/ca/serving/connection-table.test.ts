// Admission on the CA's gRPC port: per-source cap, total cap, and eviction of the oldest handshake at the total cap.
import { describe, expect, it } from 'vitest';
import { ConnectionTable, FD_RESERVE, fitConnectionCap, sourceKey } from '../../../../src/ca/serving/connection-table.js';

describe('ConnectionTable', () => {
  it('refuses a source at its cap and admits it again when one of its connections closes', () => {
    const t = new ConnectionTable<string>({ max: 10, maxPerSource: 2 });
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

  it('at the total cap evicts the oldest handshake for the newcomer, and refuses only when all are established', () => {
    const t = new ConnectionTable<string>({ max: 3, maxPerSource: 10 });
    t.admit('old', 'A');
    t.admit('mid', 'B');
    t.admit('new', 'C');
    t.establish('old');
    expect(t.admit('x', 'D')).toEqual({ ok: true, evict: 'mid' });
    expect(t.isHandshaking('mid')).toBe(false);
    expect(t.counts()).toEqual({ handshaking: 2, established: 1, sources: 3 });
    t.establish('new');
    t.establish('x');
    expect(t.admit('y', 'E')).toEqual({ ok: false, reason: 'connection_limit' });
    t.remove('x');
    expect(t.admit('y', 'E')).toEqual({ ok: true });
    expect(t.size()).toBe(3);
  });

  it('evicts every silent connection before one that has started its handshake, oldest first in each group', () => {
    const t = new ConnectionTable<string>({ max: 3, maxPerSource: 10 });
    t.admit('client', 'A');
    t.spoke('client'); // a real client's ClientHello arrived; its handshake is under way
    t.admit('s1', 'B');
    t.admit('s2', 'C');
    expect(t.admit('s3', 'D')).toEqual({ ok: true, evict: 's1' });
    expect(t.admit('s4', 'E')).toEqual({ ok: true, evict: 's2' });
    expect(t.isHandshaking('client')).toBe(true);
    t.spoke('s3');
    t.spoke('s4');
    // No silent connection left: now the handshake that started first goes.
    expect(t.admit('s5', 'F')).toEqual({ ok: true, evict: 'client' });
    expect(t.counts()).toEqual({ handshaking: 3, established: 0, sources: 3 });
  });

  it('counts an IPv4-mapped IPv6 peer as its IPv4 source', () => {
    expect(sourceKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('10.1.2.3')).toBe('10.1.2.3');
    expect(sourceKey('FD00::1')).toBe('fd00::1');
  });

  it('fits the cap under the open-file limit with a reserve', () => {
    expect(fitConnectionCap(2048, undefined)).toBe(2048);
    expect(fitConnectionCap(2048, 1_048_576)).toBe(2048);
    expect(fitConnectionCap(2048, 600)).toBe(600 - FD_RESERVE);
    expect(fitConnectionCap(2048, 10)).toBe(1);
  });
});
