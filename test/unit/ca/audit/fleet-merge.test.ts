// Several replicas' views merged into one: each ID once, from the replica that issued its latest certificate (ties
// broken by serial, whatever the order of answers), issuances of the last hour summed, states recomputed now; a
// replica that could not be read is named.
import { describe, expect, it } from 'vitest';
import { mergeReplicaViews, type ReplicaView } from '../../../../src/ca/audit/fleet-merge.js';
import type { IdentitiesReport, IssuedIdentity } from '../../../../src/ca/audit/issued-ids.js';

const T0 = Date.UTC(2026, 10, 28, 12);
const iso = (ms: number) => new Date(ms).toISOString();
const row = (spiffeId: string, issuedAtMs: number, serial: string, lastHour = 1): IssuedIdentity => ({
  spiffeId, state: 'ok', serial, method: 'renewal', peer: '10.0.0.1:1', issuedAt: iso(issuedAtMs), notAfter: iso(issuedAtMs + 3_600_000),
  renewBy: iso(issuedAtMs + 1_980_000), issuancesLastHour: lastHour,
});
const report = (replica: string, identities: IssuedIdentity[]): IdentitiesReport => ({
  scope: 'replica', replica, rebuiltFrom: null, generatedAt: iso(T0), windowSeconds: 86_400, limit: 10_000, tracked: identities.length, evicted: 0, identities,
});

describe('mergeReplicaViews', () => {
  it('keeps each ID\'s latest certificate and where it came from, sums the last hour, recomputes states', () => {
    const views: ReplicaView[] = [
      { replica: 'ca-0', report: report('ca-0', [row('spiffe://td/a', T0 - 10 * 60_000, 'a1'), row('spiffe://td/b', T0 - 40 * 60_000, 'b1')]) },
      { replica: 'ca-1', report: report('ca-1', [row('spiffe://td/a', T0 - 60_000, 'a2', 2), row('spiffe://td/c', T0 - 5 * 60_000, 'c1')]) },
    ];
    const m = mergeReplicaViews(views, T0);
    expect(m).toMatchObject({ scope: 'cluster', replica: 'ca-0,ca-1', tracked: 3, limit: 20_000, replicas: [{ replica: 'ca-0', tracked: 2, rebuilt: false }, { replica: 'ca-1', tracked: 2, rebuilt: false }] });
    expect(m.identities.map((i) => [i.spiffeId, i.state, i.serial, i.replica, i.issuancesLastHour])).toEqual([
      ['spiffe://td/b', 'overdue', 'b1', 'ca-0', 1], // 40 min into a 1 h certificate: past 55%
      ['spiffe://td/c', 'ok', 'c1', 'ca-1', 1],
      ['spiffe://td/a', 'ok', 'a2', 'ca-1', 3],
    ]);
    expect(mergeReplicaViews([...views].reverse(), T0).identities).toEqual(m.identities);
  });

  it('breaks a tie by serial, and names a replica it could not read', () => {
    const a = { replica: 'ca-0', report: report('ca-0', [row('spiffe://td/a', T0, 'aa')]) };
    const b = { replica: 'ca-1', report: report('ca-1', [row('spiffe://td/a', T0, 'ab')]) };
    const down = { replica: 'ca-2', error: 'HTTP 503' };
    for (const order of [[a, b, down], [down, b, a]]) {
      const m = mergeReplicaViews(order, T0);
      expect(m.identities.map((i) => i.serial)).toEqual(['ab']);
      expect(m.replicas.find((r) => r.replica === 'ca-2')).toEqual({ replica: 'ca-2', error: 'HTTP 503' });
    }
  });
});
