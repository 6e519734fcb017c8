// The round trip of echo-round-trips-through-transparent-mtls over IPv6: ip6tables rules, SO_ORIGINAL_DST at
// SOL_IPV6, the forward to the app from ::6, and only TLS on the wire between the two IPv6 addresses.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { capture, client, converge, count, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('ipv6-echo-round-trips-through-transparent-mtls');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;

describe.skipIf(skip)('transparent mTLS over IPv6', () => {
  beforeAll(async () => {
    mesh = await createMesh('ipv6-roundtrip', ['a', 'b']);
    issuer = await startIssuer(mesh);
    [a, b] = await Promise.all([startPod(mesh, issuer, 'a', { sa: 'web' }), startPod(mesh, issuer, 'b', { sa: 'api' })]);
    // A knows B is meshed (B announced itself) before it dials B.
    await converge(issuer, [a, b]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('the echo round-trips over IPv6 with only TLS on the wire', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}\nB:\n${b.sidecar.output()}`));
    const echo = await startEcho(mesh, 'b');
    const cap = await capture(mesh, 'a', mesh.addr6.a!, mesh.addr6.b!, 'v6');
    const marker = `ZTMESH-V6-MARKER-${Date.now()}`;
    const r = await client(mesh, 'a', mesh.addr6.b!, 8080, marker);
    const pcap = await cap.stop();
    expect(r).toMatchObject({ data: marker });
    expect(logs(echo, { connection: true })).toEqual([expect.objectContaining({ remote: '::6', local: mesh.addr6.b, port: 8080 })]);
    expect(count(pcap, Buffer.from([0x17, 0x03, 0x03]))).toBeGreaterThan(1);
    expect(count(pcap, marker)).toBe(0);
    await b.sidecar.waitFor(new RegExp(`"peer":"\\[${mesh.addr6.a}\\]:\\d+","peerId":"${a.spiffeId}"`));
    await a.sidecar.waitFor(new RegExp(`"upstream":"\\[${mesh.addr6.b}\\]:8080","peerId":"${b.spiffeId}"`)); // IPv6 in brackets, as every host:port
    await echo.stop();
  });
});
