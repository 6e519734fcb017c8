// The fleet view joined with the live mesh streams: per ID, the trust-bundle version each of its streams
// acknowledged (`-` before the first), and per replica the version served with its acknowledgements; merged views add
// them up and serve the highest version.
import { describe, expect, it } from 'vitest';
import { mergeBundleAcks, withBundleAcks } from '../../../../src/ca/audit/bundle-acks.js';
import type { IdentitiesReport } from '../../../../src/ca/audit/issued-ids.js';
import type { MeshReport } from '../../../../src/ca/mesh/stream-registry.js';

const report: IdentitiesReport = { scope: 'replica', replica: 'ca-0', generatedAt: '2026-11-28T12:00:00.000Z', windowSeconds: 86_400, limit: 10_000, tracked: 0, evicted: 0, identities: [] };
const stream = (spiffeId: string, acked: string | null) => ({
  spiffeId, peer: '10.0.0.1:1', sidecarVersion: '0.1.0', connectedSince: '…', announced: [],
  kinds: { 'trust-bundle': { sent: null, acked, ackedAt: null, lastNack: null, snapshots: 1, deltas: 0 } },
});
const mesh = (version: string, acked: Record<string, number>, sidecars: ReturnType<typeof stream>[]): MeshReport => ({
  replica: 'ca-0', streams: sidecars.length, kinds: { 'trust-bundle': { version, acked } }, sidecars,
});

describe('bundle acknowledgements in the fleet view', () => {
  it('lists each live stream\'s acknowledged version under its ID, and the replica\'s summary', () => {
    const r = withBundleAcks(report, mesh('3', { 3: 2, 2: 1 }, [stream('spiffe://td/a', '3'), stream('spiffe://td/a', '2'), stream('spiffe://td/b', '3'), stream('spiffe://td/c', null)]));
    expect(r.trustBundle).toEqual({ version: '3', streams: 4, acked: { 3: 2, 2: 1 } });
    expect(r.bundleAcks).toEqual({ 'spiffe://td/a': ['3', '2'], 'spiffe://td/b': ['3'], 'spiffe://td/c': ['-'] });
    expect(r.identities).toBe(report.identities);
  });

  it('merges replicas: the highest version served (as a number), streams and acknowledgements added up', () => {
    const a = withBundleAcks(report, mesh('9', { 9: 1 }, [stream('spiffe://td/a', '9')]));
    const b = withBundleAcks(report, mesh('10', { 10: 1, 9: 1 }, [stream('spiffe://td/a', '10'), stream('spiffe://td/b', '9')]));
    expect(mergeBundleAcks([a, b, report])).toEqual({
      trustBundle: { version: '10', streams: 3, acked: { 9: 2, 10: 1 } },
      bundleAcks: { 'spiffe://td/a': ['9', '10'], 'spiffe://td/b': ['9'] },
    });
    expect(mergeBundleAcks([report])).toEqual({});
  });
});
