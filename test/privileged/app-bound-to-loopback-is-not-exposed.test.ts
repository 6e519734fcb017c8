// Transparent inbound forwards to the pod IP (from 127.0.0.6), never to 127.0.0.1: an app bound only to loopback
// in B is not reachable from A through the mesh (forward_unavailable), while an app on 0.0.0.0 is.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { client, converge, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('app-bound-to-loopback-is-not-exposed');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;

describe.skipIf(skip)('loopback-only apps', () => {
  beforeAll(async () => {
    mesh = await createMesh('loopback-app', ['a', 'b']);
    issuer = await startIssuer(mesh);
    [a, b] = await Promise.all([startPod(mesh, issuer, 'a', { sa: 'web' }), startPod(mesh, issuer, 'b', { sa: 'api' })]);
    // A knows B is meshed (B announced itself) before it dials B.
    await converge(issuer, [a, b]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('stay private: the forward fails with forward_unavailable; the wildcard-bound app answers', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}\nB:\n${b.sidecar.output()}`));
    const local = await startEcho(mesh, 'b', 8081, '127.0.0.1');
    const r = await client(mesh, 'a', mesh.addr.b!, 8081, 'to-loopback-app', 3000);
    expect(r.data).toBe('');
    const line = JSON.parse(await b.sidecar.waitFor(/"reason":"forward_unavailable"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-inbound', peerId: a.spiffeId });
    expect(logs(local, { connection: true })).toHaveLength(0);
    const wide = await startEcho(mesh, 'b', 8082, '0.0.0.0');
    expect(await client(mesh, 'a', mesh.addr.b!, 8082, 'to-wildcard-app')).toMatchObject({ data: 'to-wildcard-app' });
    await Promise.all([local.stop(), wide.stop()]);
  });
});
