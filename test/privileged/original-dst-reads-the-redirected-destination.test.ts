// originalDst() in a real network namespace: behind `ztmesh iptables`, a REDIRECTed connection reports the
// address the app dialled (IPv4 and IPv6); without the rules the boot self-check fails with a clear message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCa } from '../helpers/pki.js';
import { BIN } from '../helpers/cli.js';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';

const skip = skipPrivileged('original-dst-reads-the-redirected-destination');
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
let mesh: Mesh;

describe.skipIf(skip)('originalDst', () => {
  beforeAll(async () => { mesh = await createMesh('original-dst', ['a', 'b']); });
  afterAll(async () => { await mesh?.destroy(); });

  it('the self-check fails before `ztmesh iptables` ran, naming the fix, and passes after', async () => {
    const before = await mesh.run('a', [process.execPath, fixture('self-check.mjs')], { uid: 1337 });
    const b = JSON.parse(before.stdout) as { ok: boolean; code: string; message: string };
    expect(b).toMatchObject({ ok: false, code: 'original_dst_unavailable' });
    expect(b.message).toContain('run `ztmesh iptables`');
    expect((await mesh.run('a', [process.execPath, BIN, 'iptables', '--ipv6', 'true'])).code).toBe(0);
    const after = await mesh.run('a', [process.execPath, fixture('self-check.mjs')], { uid: 1337 });
    expect(JSON.parse(after.stdout)).toMatchObject({ ok: true, probe: { address: '127.0.0.1', family: 4 } });
  });

  it('`ztmesh sidecar --transparent` refuses to start in a namespace without the rules, saying why', async () => {
    const bundle = join(mesh.tmp, 'roots.pem');
    writeFileSync(bundle, makeCa('example.org').certPem, { mode: 0o644 });
    writeFileSync(join(mesh.tmp, 'token'), 'ztjt_unused', { mode: 0o644 });
    const p = mesh.spawn('b', [
      process.execPath, BIN, 'sidecar', '--transparent', '--trust-domain', 'example.org', '--ca-address', '127.0.0.1:1',
      '--ca-bundle', bundle, '--token-file', join(mesh.tmp, 'token'), '--admin', '127.0.0.1:0', '--health', '127.0.0.1:0',
    ], { uid: 1337 });
    const code = await p.exited;
    expect(code).not.toBe(0);
    expect(p.output()).toContain('original_dst_unavailable');
    expect(p.output()).toContain('run `ztmesh iptables`');
  });

  it('an app connection to another pod arrives at 15001 with that pod\'s address and port, IPv4 and IPv6', async () => {
    const server = mesh.spawn('a', [process.execPath, fixture('original-dst-server.mjs'), '15001'], { uid: 1337 });
    await server.waitFor(/listening/);
    const ask = async (host: string) => {
      const r = await mesh.run('a', [process.execPath, fixture('tcp-client.mjs'), host, '8080'], { uid: 1000 });
      return JSON.parse(JSON.parse(r.stdout).data) as { dst: { address: string; port: number; family: number }; uid: number };
    };
    expect(await ask(mesh.addr.b!)).toMatchObject({ dst: { address: mesh.addr.b, port: 8080, family: 4 }, uid: 1337 });
    expect(await ask(mesh.addr6.b!)).toMatchObject({ dst: { address: mesh.addr6.b, port: 8080, family: 6 } });
    // A direct connection reports the listener itself: what the loop guard keys on.
    const direct = await mesh.run('a', [process.execPath, fixture('tcp-client.mjs'), '127.0.0.1', '15001'], { uid: 1000 });
    expect(JSON.parse(JSON.parse(direct.stdout).data)).toMatchObject({ dst: { address: '127.0.0.1', port: 15001 } });
    await server.stop();
  });
});
