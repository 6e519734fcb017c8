// The CA's versioned membership set: versions move only on change, and a delta from any version it can answer for
// turns the set as it was then into the set as it is now (fast-check over random histories).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MeshedDestination } from '../../../src/mesh/destination.js';
import { MembershipSet } from '../../../src/mesh/membership-set.js';
import { LOG_MIN, VersionedSet } from '../../../src/mesh/versioned-set.js';

const d = (key: string, ip: string, ports: number[] = []): MeshedDestination => ({ key, cidrs: [`${ip}/32`], ports, identities: [] });
const sorted = (s: Iterable<MeshedDestination>) => [...s].sort((a, b) => a.key.localeCompare(b.key));

describe('VersionedSet', () => {
  it('moves its version only on a change', () => {
    const s = new VersionedSet('ab12');
    expect(s.version).toBe('ab12-0');
    expect(s.upsert(d('a', '10.0.0.1'))).toBe(true);
    expect(s.upsert(d('a', '10.0.0.1'))).toBe(false);
    expect(s.remove('nope')).toBe(false);
    expect(s.version).toBe('ab12-1');
    expect(s.upsert(d('a', '10.0.0.2'))).toBe(true);
    expect(s.version).toBe('ab12-2');
  });

  it('answers no delta for another instance, a future version or a compacted one', () => {
    const s = new VersionedSet('ab12');
    s.upsert(d('a', '10.0.0.1'));
    expect(s.deltaFrom('ffff-0')).toBeUndefined();
    expect(s.deltaFrom('ab12-9')).toBeUndefined();
    expect(s.deltaFrom('garbage')).toBeUndefined();
    expect(s.deltaFrom('ab12-0')).toEqual({ upsert: [d('a', '10.0.0.1')], remove: [] });
    for (let i = 0; i <= LOG_MIN; i++) s.upsert(d('a', `10.0.${i >> 8}.${i & 255}`));
    expect(s.deltaFrom('ab12-0')).toBeUndefined();
    expect(s.deltaFrom(s.version)).toEqual({ upsert: [], remove: [] });
  });

  it('replacePrefix makes one source\'s entries exactly its list and leaves the others', () => {
    const s = new VersionedSet('i');
    s.upsert(d('static/a', '10.0.0.1'));
    s.upsert(d('static/b', '10.0.0.2'));
    s.upsert(d('pod/x', '10.0.0.3'));
    expect(s.replacePrefix('static/', [d('static/b', '10.0.0.2'), d('static/c', '10.0.0.4')])).toBe(2);
    expect([...s.keys()].sort()).toEqual(['pod/x', 'static/b', 'static/c']);
  });

  it('a delta from any recent version brings a sidecar that holds it to the current set', () => {
    const op = fc.oneof(fc.record({ up: fc.integer({ min: 0, max: 9 }), ip: fc.integer({ min: 1, max: 4 }) }), fc.record({ rm: fc.integer({ min: 0, max: 9 }) }));
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), fc.array(op, { maxLength: 40 }), (before, after) => {
      const s = new VersionedSet('i');
      const run = (ops: typeof before) => {
        for (const o of ops) {
          if ('up' in o) s.upsert(d(`k${o.up}`, `10.0.0.${o.ip}`));
          else s.remove(`k${o.rm}`);
        }
      };
      run(before);
      const sidecar = new MembershipSet();
      sidecar.apply({ version: s.version, base: '', upsert: s.snapshot(), remove: [] });
      run(after);
      const delta = s.deltaFrom(sidecar.version)!;
      expect(delta).toBeDefined();
      sidecar.apply({ version: s.version, base: sidecar.version, ...delta });
      expect(sorted(sidecar.destinations())).toEqual(sorted(s.snapshot()));
    }), { numRuns: 300 });
  });
});
