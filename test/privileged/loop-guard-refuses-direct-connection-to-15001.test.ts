// Loop guard: a connection made straight to the sidecar's outbound port (not redirected) has the listener itself
// as its original destination; it is refused as not_redirected, from inside the pod and from another namespace,
// and the sidecar stays healthy for redirected traffic.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { APP_UID, client, fixture, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('loop-guard-refuses-direct-connection-to-15001');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;

describe.skipIf(skip)('loop guard', () => {
  beforeAll(async () => {
    mesh = await createMesh('loop-guard', ['a', 'b']);
    issuer = await startIssuer(mesh);
    [a] = await Promise.all([startPod(mesh, issuer, 'a', { sa: 'web' }), startPod(mesh, issuer, 'b', { sa: 'api' })]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('a direct connection to 15001 is refused (not_redirected) and does not loop', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}`));
    const local = await client(mesh, 'a', '127.0.0.1', 15001, 'direct-local', 2000);
    expect(local.data).toBe('');
    const fromOutside = await mesh.run('hub', [process.execPath, fixture('tcp-client.mjs'), mesh.addr.a!, '15001', 'direct-remote', '2000'], { uid: APP_UID });
    expect(JSON.parse(fromOutside.stdout).data).toBe('');
    await a.sidecar.waitFor(new RegExp(`"peer":"\\[::ffff:${mesh.hubAddr.replace(/\./g, '\\.')}\\]:\\d+".*"reason":"not_redirected"`));
    const refused = logs(a.sidecar, { reason: 'not_redirected' });
    expect(refused).toHaveLength(2);
    expect(refused.every((l) => l.listener === 'transparent-outbound')).toBe(true);
    // Nothing was dialled on their behalf, and the sidecar still carries real, redirected traffic.
    expect(logs(a.sidecar, { msg: 'outbound connection established' })).toHaveLength(0);
    const echo = await startEcho(mesh, 'b');
    expect(await client(mesh, 'a', mesh.addr.b!, 8080, 'still-works')).toMatchObject({ data: 'still-works' });
    await echo.stop();
  });
});
