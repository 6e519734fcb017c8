// One session cache per sidecar: pod A's app first reaches B through an explicit outbound listener (a full TLS
// handshake to B:8080), then dials B:8080 directly; the transparent outbound resumes the session the explicit
// listener made, and B's sidecar sees the resumed session. Sidecars as uid 1337, apps as uid 1000, `ztmesh iptables`.
// The explicit listener expects a pattern (ns/default/*) and the transparent outbound B's own ID (membership names
// it), so the two use separate tunnel pools: the second is a new TLS connection, resumed from the first one's ticket.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { client, converge, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('explicit-and-transparent-share-tls-sessions');
const EXPLICIT_PORT = 9001;
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;

describe.skipIf(skip)('explicit and transparent outbound share one TLS session cache', () => {
  beforeAll(async () => {
    mesh = await createMesh('shared-sessions', ['a', 'b']);
    issuer = await startIssuer(mesh);
    const upstream = `${mesh.addr.b}:8080`;
    [a, b] = await Promise.all([
      startPod(mesh, issuer, 'a', { sa: 'web', outbound: [{ name: 'to-b', listen: `127.0.0.1:${EXPLICIT_PORT}`, upstream, expect: 'spiffe://example.org/ns/default/*' }] }),
      startPod(mesh, issuer, 'b', { sa: 'api' }),
    ]);
    // A knows B is meshed (B announced itself) before it dials B.
    await converge(issuer, [a, b]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('a session made through the explicit listener is resumed by a transparent connection to the same upstream', async () => {
    onTestFailed(() => console.error(`A sidecar:\n${a.sidecar.output()}\nB sidecar:\n${b.sidecar.output()}`));
    const echo = await startEcho(mesh, 'b');
    expect(await client(mesh, 'a', '127.0.0.1', EXPLICIT_PORT, 'through the explicit listener')).toMatchObject({ data: 'through the explicit listener' });
    expect(await client(mesh, 'a', mesh.addr.b!, 8080, 'redirected to 15001')).toMatchObject({ data: 'redirected to 15001' });

    const established = logs(a.sidecar, { msg: 'outbound connection established' });
    expect(established).toEqual([
      expect.objectContaining({ listener: 'to-b', upstream: `${mesh.addr.b}:8080`, resumed: false, peerId: b.spiffeId }),
      expect.objectContaining({ listener: 'transparent-outbound', upstream: `${mesh.addr.b}:8080`, resumed: true, peerId: b.spiffeId }),
    ]);
    // B saw the same: a full handshake from A, then a resumed one, both A's identity.
    expect(logs(b.sidecar, { msg: 'inbound connection forwarded' }).map((l) => [l.peerId, l.resumed])).toEqual([[a.spiffeId, false], [a.spiffeId, true]]);
    await echo.stop();
  });
});
