// Issue 20's acceptance in network namespaces: pods A, B, R, P (meshed, transparent; R with outboundPolicy
// registry-only, P with inboundMode permissive), C and S (no sidecar, plain TCP echo servers; S listed by `ca serve
// --meshed-cidrs`). The CA learns
// who is meshed from announcements and the static entry, and each sidecar decides per connection:
// - A→B is mTLS (B meshed by its own announcement; the capture shows no plaintext, B sees A's ID);
// - A→C is plain TCP under passthrough (counted, listed in /status), R→C is refused with destination_not_meshed;
// - A→S is mTLS because of the static entry: S speaks no TLS, so the connection fails, and nothing is sent plain;
// - C→B (a client without a sidecar) is refused by B's strict inbound; C→P is forwarded by P's permissive inbound and
//   counted, while A→P still carries A's identity;
// - an attacker resetting A's handshakes to B, and then B's sidecar killed, never get A to send plaintext to B.
// Assertions are on the sidecars' counters and logs, never on time.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type LineProcess, type Mesh } from '../helpers/netns.js';
import {
  ANNOUNCED_PER_POD, APP_UID, capture, client, count, fixture, logs, membershipHolds, startEcho, startHubCa, startPod, type Issuer, type Pod,
} from './scenario.js';

// The scenario is about the CA's membership: it needs the CA issuer, whatever ZTMESH_PRIVILEGED_IDENTITY says.
const skip = skipPrivileged('mesh-membership-decides-mtls-passthrough-and-refusal');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;
let r: Pod;
let p: Pod;
const echoes: Record<string, LineProcess> = {};

interface MeshStatus {
  membership: { state: string; entries: number; version: string };
  passthrough: { total: number; top: { destination: string; connections: number }[] };
}
async function meshStatus(role: string): Promise<MeshStatus> {
  const res = await mesh.run(role, [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/status']);
  return (JSON.parse(res.stdout) as { mesh: MeshStatus }).mesh;
}
async function metrics(role: string): Promise<string> {
  return (await mesh.run(role, [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/metrics'])).stdout;
}
/** Four meshed pods' announcements, and S's static entry. */
const MESHED_ENTRIES = 4 * ANNOUNCED_PER_POD + 1;
const marker = (what: string) => `ZTMESH-${what}-MARKER-${Date.now()}`;

describe.skipIf(skip)('membership decides mTLS, passthrough and refusal', () => {
  beforeAll(async () => {
    mesh = await createMesh('mesh-membership', ['a', 'b', 'r', 'p', 'c', 's']);
    issuer = { kind: 'ca', ca: await startHubCa(mesh, ['--meshed-cidrs', `${mesh.addr.s}/32`]) };
    [a, b, r, p] = await Promise.all([
      startPod(mesh, issuer, 'a', { sa: 'web' }),
      startPod(mesh, issuer, 'b', { sa: 'api' }),
      startPod(mesh, issuer, 'r', { sa: 'strict', transparent: { outboundPolicy: 'registry-only' } }),
      startPod(mesh, issuer, 'p', { sa: 'legacy-friendly', transparent: { inboundMode: 'permissive' } }),
    ]);
    // Every sidecar knows the four announcements and the static entry before anything dials.
    await Promise.all([a, b, r, p].map((pod) => membershipHolds(pod, MESHED_ENTRIES)));
    [echoes.b, echoes.c, echoes.s, echoes.p] = await Promise.all([startEcho(mesh, 'b'), startEcho(mesh, 'c'), startEcho(mesh, 's'), startEcho(mesh, 'p')]);
  }, 120_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('A→B is mTLS: B is meshed by its announcement, no plaintext on the wire, B sees A\'s identity', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}\nB:\n${b.sidecar.output()}`));
    const before = await meshStatus('a');
    expect(before.membership).toMatchObject({ state: 'known', entries: MESHED_ENTRIES });
    const cap = await capture(mesh, 'a', mesh.addr.a!, mesh.addr.b!, 'a-b');
    const m = marker('A-B');
    expect(await client(mesh, 'a', mesh.addr.b!, 8080, m)).toMatchObject({ data: m });
    const pcap = await cap.stop();
    expect(count(pcap, m)).toBe(0);
    expect(count(pcap, Buffer.from([0x17, 0x03, 0x03]))).toBeGreaterThan(0);
    expect(logs(b.sidecar, { msg: 'inbound connection forwarded' }).map((l) => l.peerId)).toContain(a.spiffeId);
    expect((await meshStatus('a')).passthrough.total).toBe(before.passthrough.total);
  });

  it('A→C is plain TCP under passthrough: counted by reason and listed in /status', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}`));
    const cap = await capture(mesh, 'a', mesh.addr.a!, mesh.addr.c!, 'a-c');
    const m = marker('A-C');
    expect(await client(mesh, 'a', mesh.addr.c!, 8080, m)).toMatchObject({ data: m });
    const pcap = await cap.stop();
    expect(count(pcap, m)).toBeGreaterThan(0);
    const st = await meshStatus('a');
    expect(st.passthrough.total).toBe(1);
    expect(st.passthrough.top).toEqual([expect.objectContaining({ destination: `${mesh.addr.c}:8080`, connections: 1 })]);
    expect(await metrics('a')).toMatch(/ztmesh_outbound_passthrough_total\{reason="not_meshed"\} 1/);
  });

  it('R (registry-only) is refused C with destination_not_meshed, and still reaches B over mTLS', async () => {
    onTestFailed(() => console.error(`R:\n${r.sidecar.output()}`));
    const m = marker('R-C');
    const res = await client(mesh, 'r', mesh.addr.c!, 8080, m, 3000);
    expect(res.data).not.toContain(m);
    expect(JSON.parse(await r.sidecar.waitFor(/"reason":"destination_not_meshed"/))).toMatchObject({ msg: 'connection refused', upstream: `${mesh.addr.c}:8080` });
    expect(echoes.c!.output()).not.toContain(m);
    const ok = marker('R-B');
    expect(await client(mesh, 'r', mesh.addr.b!, 8080, ok)).toMatchObject({ data: ok });
    expect((await meshStatus('r')).passthrough.total).toBe(0);
  });

  it('A→S is mTLS because `ca serve --meshed-cidrs` lists S: S speaks no TLS, the connection fails, nothing goes plain', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}`));
    const before = (await meshStatus('a')).passthrough.total;
    const cap = await capture(mesh, 'a', mesh.addr.a!, mesh.addr.s!, 'a-s');
    const m = marker('A-S');
    const res = await client(mesh, 'a', mesh.addr.s!, 8080, m, 3000);
    const pcap = await cap.stop();
    expect(res.data).not.toContain(m);
    expect(count(pcap, m)).toBe(0);
    expect(count(pcap, Buffer.from([0x16, 0x03, 0x01]))).toBeGreaterThan(0);
    expect(echoes.s!.output()).not.toContain(m);
    expect((await meshStatus('a')).passthrough.total).toBe(before);
  });

  it('C→B (no sidecar on C) is refused by B\'s strict inbound', async () => {
    onTestFailed(() => console.error(`B:\n${b.sidecar.output()}`));
    const m = marker('C-B');
    const res = await mesh.run('c', [process.execPath, fixture('tcp-client.mjs'), mesh.addr.b!, '8080', m, '3000'], { uid: APP_UID });
    expect((JSON.parse(res.stdout) as { data: string }).data).not.toContain(m);
    const line = JSON.parse(await b.sidecar.waitFor(new RegExp(`"peer":"\\[?(::ffff:)?${mesh.addr.c!.replace(/\./g, '\\.')}\\]?:\\d+".*"reason":"not_tls"`))) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-inbound', msg: 'connection refused' });
    expect(echoes.b!.output()).not.toContain(m);
  });

  it('C→P is forwarded by P\'s permissive inbound and counted, while A→P still carries A\'s identity', async () => {
    onTestFailed(() => console.error(`P:\n${p.sidecar.output()}`));
    const m = marker('C-P');
    const res = await mesh.run('c', [process.execPath, fixture('tcp-client.mjs'), mesh.addr.p!, '8080', m, '5000'], { uid: APP_UID });
    expect(JSON.parse(res.stdout)).toMatchObject({ data: m });
    expect(await metrics('p')).toMatch(/ztmesh_inbound_plaintext_total 1\b/);
    expect(logs(p.sidecar, { msg: 'inbound plaintext: forwarded without an identity' })).toEqual([expect.objectContaining({ peer: expect.stringContaining(mesh.addr.c!) })]);
    const ma = marker('A-P');
    expect(await client(mesh, 'a', mesh.addr.p!, 8080, ma)).toMatchObject({ data: ma });
    expect(logs(p.sidecar, { msg: 'inbound connection forwarded' }).map((l) => l.peerId)).toContain(a.spiffeId);
    expect(await metrics('p')).toMatch(/ztmesh_inbound_plaintext_total 1\b/);
    const st = JSON.parse((await mesh.run('p', [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/status'])).stdout) as { mesh: { inboundMode: { mode: string }; inboundPlaintext: { total: number } } };
    expect(st.mesh).toMatchObject({ inboundMode: { mode: 'permissive', source: 'config' }, inboundPlaintext: { total: 1 } });
  });

  it('an attacker resetting A\'s handshakes to B, then B\'s sidecar killed: A never sends B plaintext', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}`));
    const before = await meshStatus('a');
    // On B's side of the wire: every packet from A but a SYN is answered with a reset, so each handshake A starts (and
    // the tunnel connection it holds) dies before any TLS record gets through.
    const rule = ['INPUT', '-p', 'tcp', '--dport', '15006', '-s', mesh.addr.a!, '!', '--syn', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    expect((await mesh.run('b', ['iptables', '-I', ...rule])).code).toBe(0);
    const cap = await capture(mesh, 'a', mesh.addr.a!, mesh.addr.b!, 'downgrade');
    const m1 = marker('RESET');
    const reset = await client(mesh, 'a', mesh.addr.b!, 8080, m1, 3000);
    expect((await mesh.run('b', ['iptables', '-D', ...rule])).code).toBe(0);
    expect(reset.data).not.toContain(m1);
    // A did try: its handshake to B was cut, and it said so (a refusal or failure naming B), not a plain retry.
    const cut = () => a.sidecar.json().filter((l) => /connection (refused|failed)/.test(String(l.msg)) && String(l.upstream ?? l.detail ?? '').includes(mesh.addr.b!));
    expect(cut().length).toBeGreaterThan(0);

    await b.sidecar.stop('SIGKILL');
    const m2 = marker('KILLED');
    const killed = await client(mesh, 'a', mesh.addr.b!, 8080, m2, 3000);
    const pcap = await cap.stop();
    expect(killed.data).not.toContain(m2);
    expect(count(pcap, m1)).toBe(0);
    expect(count(pcap, m2)).toBe(0);
    // B stays meshed (its announcement outlives its stream), and nothing left A plain.
    const after = await meshStatus('a');
    expect(after.membership.entries).toBe(before.membership.entries);
    expect(after.passthrough.total).toBe(before.passthrough.total);
    expect(echoes.b!.output()).not.toContain(m1);
    expect(echoes.b!.output()).not.toContain(m2);
  });
});
