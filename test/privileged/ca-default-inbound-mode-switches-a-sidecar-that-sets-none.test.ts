// The CA's mesh-wide inbound mode (`ca serve --default-inbound-mode permissive`) reaches the sidecars on the mesh
// stream and switches the one that sets no inbound mode itself (D): a plaintext client in C (no sidecar) is forwarded
// and counted. A sidecar that sets `strict` itself (S) keeps it: the same client is refused with not_tls. Needs
// network namespaces and iptables (transparent mode reads the redirected connection), so it runs as root.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type LineProcess, type Mesh } from '../helpers/netns.js';
import { untilValue } from '../helpers/until.js';
import { APP_UID, fixture, logs, startEcho, startHubCa, startPod, type Issuer, type Pod } from './scenario.js';

// The mesh-wide default comes from the CA: this scenario needs the CA issuer, whatever ZTMESH_PRIVILEGED_IDENTITY says.
const skip = skipPrivileged('ca-default-inbound-mode-switches-a-sidecar-that-sets-none');
let mesh: Mesh;
let issuer: Issuer;
let d: Pod;
let s: Pod;
const echoes: Record<string, LineProcess> = {};

interface MeshStatus { kinds: Record<string, { version: string }>; inboundMode: { mode: string; source: string }; inboundPlaintext: { total: number } }
async function meshStatus(role: string): Promise<MeshStatus> {
  const res = await mesh.run(role, [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/status']);
  return (JSON.parse(res.stdout) as { mesh: MeshStatus }).mesh;
}
/** C's plain TCP client (no sidecar in C) to `role`'s app port. */
async function plainFromC(role: string, message: string, waitMs: number): Promise<{ data: string; error?: string }> {
  const res = await mesh.run('c', [process.execPath, fixture('tcp-client.mjs'), mesh.addr[role]!, '8080', message, String(waitMs)], { uid: APP_UID, timeoutMs: waitMs + 10_000 });
  return JSON.parse(res.stdout) as { data: string; error?: string };
}
const marker = (what: string) => `ZTMESH-${what}-MARKER-${Date.now()}`;

describe.skipIf(skip)('the CA\'s --default-inbound-mode', () => {
  beforeAll(async () => {
    mesh = await createMesh('default-inbound', ['d', 's', 'c']);
    issuer = { kind: 'ca', ca: await startHubCa(mesh, ['--default-inbound-mode', 'permissive']) };
    [d, s] = await Promise.all([
      startPod(mesh, issuer, 'd', { sa: 'sets-none' }),
      startPod(mesh, issuer, 's', { sa: 'sets-strict', transparent: { inboundMode: 'strict' } }),
    ]);
    [echoes.d, echoes.s] = await Promise.all([startEcho(mesh, 'd'), startEcho(mesh, 's')]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('switches D, which sets none, to permissive: C\'s plaintext client is forwarded and counted', async () => {
    onTestFailed(() => console.error(`D:\n${d.sidecar.output()}`));
    // The config kind may land after the first membership: wait until D holds it, never for time.
    const st = await untilValue(() => meshStatus('d'), (m) => m.kinds.config !== undefined);
    expect(st.inboundMode).toEqual({ mode: 'permissive', source: 'ca' });
    const m = marker('C-D');
    expect(await plainFromC('d', m, 5000)).toMatchObject({ data: m });
    expect(logs(d.sidecar, { msg: 'inbound plaintext: forwarded without an identity' })).toEqual([expect.objectContaining({ peer: expect.stringContaining(mesh.addr.c!) })]);
    expect((await meshStatus('d')).inboundPlaintext.total).toBe(1);
  });

  it('leaves S, which sets strict itself, strict: the same client is refused with not_tls', async () => {
    onTestFailed(() => console.error(`S:\n${s.sidecar.output()}`));
    // S holds the CA's permissive default too; its own mode wins.
    const st = await untilValue(() => meshStatus('s'), (m) => m.kinds.config !== undefined);
    expect(st.inboundMode).toEqual({ mode: 'strict', source: 'config' });
    const m = marker('C-S');
    expect((await plainFromC('s', m, 3000)).data).not.toContain(m);
    const line = JSON.parse(await s.sidecar.waitFor(new RegExp(`"peer":"\\[?(::ffff:)?${mesh.addr.c!.replace(/\./g, '\\.')}\\]?:\\d+".*"reason":"not_tls"`))) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-inbound', msg: 'connection refused' });
    expect(echoes.s!.output()).not.toContain(m);
    expect((await meshStatus('s')).inboundPlaintext.total).toBe(0);
  });
});
