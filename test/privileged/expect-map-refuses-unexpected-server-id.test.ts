// Transparent outbound checks the server's SPIFFE ID against the `expect` entry for the original destination:
// B answers as .../sa/api, so A's connection to B:8080 (expecting .../sa/billing) is refused as server_id_mismatch
// before any app byte leaves A, while B:8081 (expecting .../sa/api) goes through.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { client, converge, idOf, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('expect-map-refuses-unexpected-server-id');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;

describe.skipIf(skip)('transparent outbound expect map', () => {
  beforeAll(async () => {
    mesh = await createMesh('expect-map', ['a', 'b']);
    issuer = await startIssuer(mesh);
    const bNet = `${mesh.addr.b}/32`;
    [a, b] = await Promise.all([
      startPod(mesh, issuer, 'a', { sa: 'web', transparent: { expect: { [`${bNet}:8080`]: idOf('billing'), [`${bNet}:8081`]: idOf('api') } } }),
      startPod(mesh, issuer, 'b', { sa: 'api' }),
    ]);
    // A knows B is meshed (B announced itself) before it dials B.
    await converge(issuer, [a, b]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('a server with another ID is refused; the expected one is accepted', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}\nB:\n${b.sidecar.output()}`));
    const [e8080, e8081] = await Promise.all([startEcho(mesh, 'b', 8080), startEcho(mesh, 'b', 8081)]);
    const refused = await client(mesh, 'a', mesh.addr.b!, 8080, 'to-the-wrong-server', 3000);
    expect(refused.data).toBe('');
    const line = JSON.parse(await a.sidecar.waitFor(/"reason":"server_id_mismatch"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-outbound', peerId: b.spiffeId });
    expect(String(line.detail)).toContain(idOf('billing'));
    expect(logs(e8080, { connection: true })).toHaveLength(0);
    expect(await client(mesh, 'a', mesh.addr.b!, 8081, 'to-the-right-server')).toMatchObject({ data: 'to-the-right-server' });
    await Promise.all([e8080.stop(), e8081.stop()]);
  });
});
