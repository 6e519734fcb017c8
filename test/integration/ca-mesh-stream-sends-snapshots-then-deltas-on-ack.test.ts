// The CA's mesh stream over real gRPC/TLS: a snapshot of every subscribed kind at once (the trust bundle, the
// static meshed CIDRs, the mesh-wide inbound mode), then one update in flight per kind, coalesced into a delta on
// what the sidecar acknowledged; a base_mismatch NACK gets a snapshot; GET /mesh shows who acknowledged what.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../helpers/admin-http.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { openMesh, svidFor } from '../helpers/mesh-stream.js';
import { trustBundleVersion } from '../../src/mesh/kinds.js';

let ca: TestCaServer;
const web = 'spiffe://example.org/ns/default/sa/web';
const api = 'spiffe://example.org/ns/default/sa/api';

interface Report { streams: number; kinds: Record<string, { version: string; entries?: number; acked: Record<string, number> }>; sidecars: { spiffeId: string; sidecarVersion: string; announced: string[]; kinds: Record<string, { acked: string; lastNack: { code: string } | null }> }[] }

/** GET /mesh, asked again until `ok` holds (the CA applies what a stream sent asynchronously). */
async function meshReportUntil(ok: (r: Report) => boolean, timeoutMs = 10_000): Promise<Report> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await adminRequest(`http://${ca.adminAddress}`, { path: '/mesh' });
    expect(res.status).toBe(200);
    const r = JSON.parse(res.body) as Report;
    if (ok(r)) return r;
    if (Date.now() > until) throw new Error(`GET /mesh never matched: ${res.body}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('CA mesh stream', () => {
  beforeAll(async () => {
    ca = await startCa({ args: ['--meshed-cidrs', '10.20.0.0/16,fd00:20::/64', '--default-inbound-mode', 'permissive'] });
  });
  afterAll(async () => { await ca?.stop(); });

  it('snapshots every kind, then deltas on what was acknowledged, one in flight per kind', async () => {
    const a = openMesh(ca, await svidFor(ca, web));
    a.subscribe(['trust-bundle', 'membership', 'config', 'no-such-kind']);
    const first = [await a.next(), await a.next(), await a.next()];
    const byKind = Object.fromEntries(first.map((u) => [u.kind, u]));
    expect(Object.keys(byKind).sort()).toEqual(['config', 'membership', 'trust-bundle']);
    // The bundle carries the JWT keys published now; its version is the sequence and a hash of those keys.
    const tb = byKind['trust-bundle']!;
    expect(tb.trustBundle!.jwtAuthorities.length).toBeGreaterThanOrEqual(2);
    expect(tb).toMatchObject({ baseVersion: '', version: trustBundleVersion(tb.trustBundle!.sequence, tb.trustBundle!.jwtAuthorities), trustBundle: { trustDomain: 'example.org' } });
    expect(tb.version).toMatch(new RegExp(`^${tb.trustBundle!.sequence}\\.[0-9a-f]{12}$`));
    expect(byKind.config).toMatchObject({ baseVersion: '', config: { inboundMode: 'permissive' } });
    const snap = byKind.membership!;
    expect(snap.baseVersion).toBe('');
    expect(snap.membership!.upsert.map((d) => d.key).sort()).toEqual(['static/10.20.0.0/16', 'static/fd00:20::/64']);
    for (const u of first) a.ack(u);

    // Another sidecar announces twice before the first acks anything more: one delta, then the next on its ack.
    const b = openMesh(ca, await svidFor(ca, api));
    b.subscribe(['membership'], ['10.30.0.5']);
    const delta = await a.next();
    expect(delta).toMatchObject({ kind: 'membership', baseVersion: snap.version });
    expect(delta.membership!.upsert).toEqual([expect.objectContaining({ cidrs: ['10.30.0.5/32'], identities: [api], ports: [] })]);
    expect(delta.membership!.upsert[0]!.key).toMatch(/^announce\/[0-9a-f]{16}\/10\.30\.0\.5$/);
    b.send({ announce: { addresses: ['10.30.0.5', 'fd00:30::5'] } });
    b.send({ announce: { addresses: ['10.30.0.5', 'fd00:30::5', '10.30.0.6'] } });
    // Once the CA holds both announcements, the first sidecar still has nothing new: its delta is not acknowledged.
    await meshReportUntil((r) => r.sidecars.some((s) => s.spiffeId === api && s.announced.length === 3));
    expect(a.pending()).toBe(0);
    a.ack(delta);
    const next = await a.next();
    expect(next.baseVersion).toBe(delta.version);
    expect(next.membership!.upsert.map((d) => d.cidrs[0]).sort()).toEqual(['10.30.0.6/32', 'fd00:30::5/128']);

    // A NACK of a delta on a base the sidecar does not hold: the next update is a snapshot of the same version.
    a.nack(next, 'base_mismatch');
    const again = await a.next();
    expect(again).toMatchObject({ kind: 'membership', baseVersion: '', version: next.version });
    expect(again.membership!.upsert).toHaveLength(5);
    a.ack(again);

    const report = await meshReportUntil((r) => r.sidecars.some((s) => s.spiffeId === web && s.kinds.membership?.acked === again.version));
    expect(report.streams).toBe(2);
    expect(report.kinds.membership).toMatchObject({ version: again.version, entries: 5 });
    const row = report.sidecars.find((s) => s.spiffeId === web)!;
    expect(row).toMatchObject({ sidecarVersion: 'test', kinds: { membership: { acked: again.version, lastNack: { code: 'base_mismatch' } } } });
    expect(report.sidecars.find((s) => s.spiffeId === api)!.announced).toEqual(['10.30.0.5', 'fd00:30::5', '10.30.0.6']);
    const metrics = (await adminRequest(`http://${ca.adminAddress}`, { path: '/metrics' })).body;
    expect(metrics).toMatch(/ztmesh_ca_mesh_streams 2/);
    expect(metrics).toMatch(/ztmesh_ca_mesh_updates_total\{kind="membership",type="delta"\} 2/);
    expect(metrics).toMatch(/ztmesh_ca_mesh_acks_total\{kind="membership",result="refused"\} 1/);
    expect(metrics).toMatch(/ztmesh_ca_mesh_membership_entries 5/);
    a.cancel();
    b.cancel();
  });
});
