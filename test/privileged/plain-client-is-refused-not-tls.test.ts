// A plain TCP client in a namespace without a sidecar (the hub) connects to B's intercepted port 8080:
// B's transparent inbound refuses it as not_tls, names the client's address, and no plaintext reaches the app.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { APP_UID, fixture, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('plain-client-is-refused-not-tls');
let mesh: Mesh;
let issuer: Issuer;
let b: Pod;

describe.skipIf(skip)('plain client against an intercepted port', () => {
  beforeAll(async () => {
    mesh = await createMesh('plain-not-tls', ['b']);
    issuer = await startIssuer(mesh);
    b = await startPod(mesh, issuer, 'b', { sa: 'api' });
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('is refused (not_tls) and the app sees no connection and no byte', async () => {
    onTestFailed(() => console.error(`B:\n${b.sidecar.output()}`));
    const echo = await startEcho(mesh, 'b');
    const marker = 'GET /secret HTTP/1.1\r\nHost: b\r\n\r\nPLAINTEXT-MARKER';
    const r = await mesh.run('hub', [process.execPath, fixture('tcp-client.mjs'), mesh.addr.b!, '8080', marker, '3000'], { uid: APP_UID });
    const result = JSON.parse(r.stdout) as { data: string; error?: string };
    expect(result.data).not.toContain('PLAINTEXT-MARKER');
    const line = JSON.parse(await b.sidecar.waitFor(/"reason":"not_tls"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-inbound', msg: 'connection refused' });
    expect(String(line.peer)).toContain(mesh.hubAddr);
    expect(logs(echo, { connection: true })).toHaveLength(0);
    expect(echo.output()).not.toContain('PLAINTEXT-MARKER');
    await echo.stop();
  });
});
