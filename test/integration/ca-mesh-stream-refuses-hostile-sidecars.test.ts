// Hostile peers of the CA's mesh stream: no SVID, a request before Subscribe, Subscribe twice, a stray ack, bad
// announcements, too many streams on one connection. Each refusal has a stable code, a log line naming the peer and
// a metric; the refusals that keep the stream keep it, and the CA goes on serving a well-behaved sidecar.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../helpers/admin-http.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { openMesh, svidFor, type TestSvid } from '../helpers/mesh-stream.js';

let ca: TestCaServer;
let svid: TestSvid;
const id = 'spiffe://example.org/ns/default/sa/hostile';

const metric = async (code: string) => {
  const body = (await adminRequest(`http://${ca.adminAddress}`, { path: '/metrics' })).body;
  return Number(new RegExp(`ztmesh_ca_mesh_refusals_total\\{code="${code}"\\} (\\d+)`).exec(body)?.[1] ?? 0);
};
const logged = (code: string) => ca.process.waitFor(new RegExp(`"code":"${code}".*"msg":"mesh stream refusal"`), 10_000).then((l) => JSON.parse(l) as Record<string, unknown>);

describe('CA mesh stream refusals', () => {
  beforeAll(async () => {
    ca = await startCa();
    svid = await svidFor(ca, id);
  });
  afterAll(async () => { await ca?.stop(); });

  it('a stream without an SVID is refused UNAUTHENTICATED no_credential', async () => {
    const s = openMesh(ca, undefined);
    s.subscribe(['membership']);
    expect(await s.closed).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/^no_credential: /) });
    expect(await logged('no_credential')).toMatchObject({ peer: expect.stringMatching(/^127\.0\.0\.1:/) });
    expect(await metric('no_credential')).toBe(1);
  });

  it('an ack before Subscribe ends the stream with not_subscribed; Subscribe twice with subscribed_twice', async () => {
    const s1 = openMesh(ca, svid);
    s1.send({ ack: { kind: 'membership', version: 'x', applied: true } });
    expect(await s1.closed).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringMatching(/^not_subscribed: /) });
    const s2 = openMesh(ca, svid);
    s2.subscribe(['config']);
    await s2.next();
    s2.subscribe(['config']);
    expect(await s2.closed).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringMatching(/^subscribed_twice: /) });
    expect(await logged('subscribed_twice')).toMatchObject({ spiffeId: id });
  });

  it('a stray ack and bad announcements are refused and counted; the stream goes on', async () => {
    const s = openMesh(ca, svid);
    s.subscribe(['config', 'membership'], ['127.0.0.1']);
    const u = await s.next();
    s.send({ ack: { kind: u.kind, version: 'never-sent', applied: true } });
    s.send({ announce: { addresses: Array.from({ length: 17 }, (_, i) => `10.40.0.${i + 1}`) } });
    s.send({ announce: { addresses: ['224.0.0.1'] } });
    await logged('announce_too_many_addresses');
    // The second announcement is counted after the first one's line: polled.
    await expect.poll(() => metric('announce_bad_address')).toBe(2);
    expect(await metric('ack_unexpected_version')).toBe(1);
    s.ack(u);
    s.ack(await s.next());
    // Still open, and announcing properly still works.
    s.send({ announce: { addresses: ['10.40.0.1'] } });
    const other = openMesh(ca, await svidFor(ca, 'spiffe://example.org/ns/default/sa/watcher'));
    other.subscribe(['membership']);
    const until = Date.now() + 10_000;
    for (let u2 = await other.next(); ; u2 = await other.next()) {
      other.ack(u2);
      if (u2.membership!.upsert.some((d) => d.cidrs[0] === '10.40.0.1/32' && d.identities[0] === id)) break;
      expect(Date.now()).toBeLessThan(until);
    }
    s.cancel();
    other.cancel();
  });

  it('at most 4 mesh streams share one connection (mesh_stream_limit), and the CA serves the rest', async () => {
    const first = openMesh(ca, svid);
    first.subscribe(['config']);
    await first.next();
    const more = [1, 2, 3, 4].map(() => openMesh(ca, svid, first.client));
    for (const m of more) m.subscribe(['config']);
    const ends = await Promise.race([Promise.any(more.map((m) => m.closed)), new Promise((r) => setTimeout(() => r('none'), 10_000))]);
    expect(ends).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/^mesh_stream_limit: /) });
    expect(await metric('mesh_stream_limit')).toBe(1);
    const fresh = openMesh(ca, svid);
    fresh.subscribe(['config']);
    expect((await fresh.next()).kind).toBe('config');
    for (const m of [first, ...more, fresh]) m.cancel();
  });
});
