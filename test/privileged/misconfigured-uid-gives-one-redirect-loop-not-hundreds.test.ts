// The sidecar runs as a uid other than `ztmesh iptables --proxy-uid`, so its own upstream dial is REDIRECTed
// back to its 15001. It must recognise its own dial (remote end = local end of a socket it dialled) and refuse
// it as redirect_loop: one app connection gives exactly one refused nested connection, not hundreds.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { client, converge, logs, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('misconfigured-uid-gives-one-redirect-loop-not-hundreds');
const WRONG_UID = 1338;
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;

describe.skipIf(skip)('misconfigured proxy uid', () => {
  beforeAll(async () => {
    mesh = await createMesh('misconfigured-uid', ['a', 'b']);
    issuer = await startIssuer(mesh);
    // The rules exclude uid/gid 1337, but A's sidecar runs as 1338. Its CA port is excluded so that it can
    // still get an SVID; every data-path dial it makes is captured again.
    const pods = await Promise.all([
      startPod(mesh, issuer, 'a', { sa: 'web', sidecarUid: WRONG_UID, iptables: ['--exclude-outbound-ports', '15012'] }),
      startPod(mesh, issuer, 'b', { sa: 'api' }),
    ]);
    [a] = pods;
    await converge(issuer, pods);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('one app connection → one redirect_loop refusal, the app connection fails, nothing piles up', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}`));
    const echo = await startEcho(mesh, 'b');
    const r = await client(mesh, 'a', mesh.addr.b!, 8080, 'never-echoed', 3000);
    expect(r.data).toBe('');
    const line = JSON.parse(await a.sidecar.waitFor(/"reason":"redirect_loop"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-outbound', msg: 'connection refused' });
    expect(String(line.detail)).toContain('--proxy-uid');
    // Give a loop time to show itself: it would be hundreds of connections by now.
    await new Promise((res) => setTimeout(res, 1500));
    expect(logs(a.sidecar, { reason: 'redirect_loop' })).toHaveLength(1);
    const refusedOrFailed = a.sidecar.json().filter((l) => l.listener === 'transparent-outbound' && (l.msg === 'connection refused' || l.msg === 'connection failed'));
    // The nested one (redirect_loop) and the app's own connection, whose upstream was reset.
    expect(refusedOrFailed.length).toBeLessThanOrEqual(2);
    expect(logs(echo, { connection: true })).toHaveLength(0);
    await echo.stop();
  });
});
