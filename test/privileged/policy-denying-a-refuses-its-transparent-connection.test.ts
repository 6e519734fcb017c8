// B's transparent inbound policy does not allow A's SPIFFE ID: A's plain client gets no echo, B's sidecar
// logs spiffe_id_denied naming A's ID and address, and nothing reaches B's app. A third pod that is allowed
// still gets through the same sidecar (the accepted side of the same policy).
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { client, converge, idOf, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('policy-denying-a-refuses-its-transparent-connection');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;
let c: Pod;

describe.skipIf(skip)('transparent inbound policy', () => {
  beforeAll(async () => {
    mesh = await createMesh('policy-denies', ['a', 'b', 'c']);
    issuer = await startIssuer(mesh);
    [a, b, c] = await Promise.all([
      startPod(mesh, issuer, 'a', { sa: 'web' }),
      startPod(mesh, issuer, 'b', { sa: 'api', transparent: { allow: [idOf('billing')] } }),
      startPod(mesh, issuer, 'c', { sa: 'billing' }),
    ]);
    // A knows B is meshed (B announced itself) before it dials B.
    await converge(issuer, [a, b, c]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('A is refused with spiffe_id_denied and its bytes never reach the app; C (allowed) gets its echo', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}\nB:\n${b.sidecar.output()}`));
    const echo = await startEcho(mesh, 'b');
    const denied = await client(mesh, 'a', mesh.addr.b!, 8080, 'from-a-should-not-arrive', 3000);
    // No echo, and the connection was ended by the mesh (reset), not left hanging until the client gave up.
    expect(denied.data).toBe('');
    expect(denied.error).not.toBe('timeout');
    const line = JSON.parse(await b.sidecar.waitFor(/"reason":"spiffe_id_denied"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-inbound', peerId: a.spiffeId, msg: 'connection refused' });
    expect(String(line.peer)).toContain(mesh.addr.a);
    expect(logs(echo, { connection: true })).toHaveLength(0);
    expect(echo.output()).not.toContain('from-a-should-not-arrive');

    const allowed = await client(mesh, 'c', mesh.addr.b!, 8080, 'from-c');
    expect(allowed).toMatchObject({ data: 'from-c' });
    await b.sidecar.waitFor(new RegExp(`"peerId":"${c.spiffeId}".*"msg":"inbound connection forwarded"`));
    expect(logs(echo, { connection: true })).toHaveLength(1);
    await echo.stop();
  });
});
