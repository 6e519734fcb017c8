// Transparent mode end to end: a plain client in pod A dials pod B's address on 8080 and gets its echo,
// while the wire between them carries only TLS (capture on the test's addresses), and B's sidecar logs A's
// SPIFFE ID. CA in the hub namespace; `ztmesh iptables` in both pods; sidecars as uid 1337, apps as uid 1000.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { capture, client, converge, count, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('echo-round-trips-through-transparent-mtls');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;

describe.skipIf(skip)('transparent mTLS round trip', () => {
  beforeAll(async () => {
    mesh = await createMesh('echo-roundtrip', ['a', 'b']);
    issuer = await startIssuer(mesh);
    [a, b] = await Promise.all([startPod(mesh, issuer, 'a', { sa: 'web' }), startPod(mesh, issuer, 'b', { sa: 'api' })]);
    // A knows B is meshed (B announced itself) before it dials B.
    await converge(issuer, [a, b]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('the echo round-trips, only TLS crosses the wire, and B logs A\'s SPIFFE ID', async () => {
    onTestFailed(() => console.error(`A sidecar:\n${a.sidecar.output()}\nB sidecar:\n${b.sidecar.output()}`));
    const echo = await startEcho(mesh, 'b');
    const cap = await capture(mesh, 'a', mesh.addr.a!, mesh.addr.b!, 'v4');
    const marker = `ZTMESH-PLAINTEXT-MARKER-${Date.now()}`;
    const r = await client(mesh, 'a', mesh.addr.b!, 8080, marker);
    const pcap = await cap.stop();
    expect(r).toMatchObject({ data: marker });
    expect(r.error).toBeUndefined();
    // The app in B got the bytes in plain, from 127.0.0.6 (the sidecar's forward), at its pod IP.
    await echo.waitFor(new RegExp(marker));
    expect(logs(echo, { connection: true })).toEqual([expect.objectContaining({ remote: '::ffff:127.0.0.6', local: `::ffff:${mesh.addr.b}`, port: 8080 })]);
    // On the wire: a TLS handshake record and application-data records, and the marker 0 times.
    expect(count(pcap, Buffer.from([0x16, 0x03, 0x01]))).toBeGreaterThan(0);
    expect(count(pcap, Buffer.from([0x17, 0x03, 0x03]))).toBeGreaterThan(1);
    expect(count(pcap, marker)).toBe(0);
    expect(pcap.length).toBeGreaterThan(500);
    // B's sidecar saw A's identity; A's sidecar verified B's.
    await b.sidecar.waitFor(new RegExp(`"peerId":"${a.spiffeId}"`));
    await a.sidecar.waitFor(new RegExp(`"peerId":"${b.spiffeId}"`));
    await echo.stop();
  });

  it('both sidecars run as uid 1337 with no capability at all', () => {
    for (const pod of [a, b]) {
      const status = readFileSync(`/proc/${pod.sidecar.child.pid}/status`, 'utf8');
      expect(status).toMatch(/^Uid:\s+1337\s+1337\s+1337\s+1337$/m);
      for (const set of ['CapEff', 'CapPrm', 'CapInh', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0{16}$`, 'm'));
    }
  });
});
