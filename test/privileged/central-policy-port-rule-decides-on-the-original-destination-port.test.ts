// A central AuthorizationPolicy's port rule in transparent mode decides on the original destination port (the port
// A's app dialled, before iptables redirected it on both sides): B's policy allows A only on 8080 (and another peer on
// 9090, so that the policy applies to 9090 too). A's plain client reaches B's app on 8080; on 9090 it is refused with
// spiffe_id_denied by that policy, the line naming port 9090, and nothing reaches the app there. Under the mesh default
// (allow) alone both would pass; a sidecar deciding on the redirect port (15006) would let both through.
// Needs network namespaces and iptables, so it runs as root.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type LineProcess, type Mesh } from '../helpers/netns.js';
import { policyDoc, writePolicyFile } from '../helpers/policies.js';
import { untilValue } from '../helpers/until.js';
import { client, converge, fixture, idOf, logs, startEcho, startHubCa, startPod, type Issuer, type Pod } from './scenario.js';

// Central policy comes from the CA: this scenario needs the CA issuer, whatever ZTMESH_PRIVILEGED_IDENTITY says.
const skip = skipPrivileged('central-policy-port-rule-decides-on-the-original-destination-port');
const POLICY = 'default/api-ports';
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;
let b: Pod;
const echoes: Record<number, LineProcess> = {};

/** `role`'s ztmesh_authz_decisions_total for `result` decided by POLICY (a tunnel counts its connection and its stream). */
async function decisions(role: string, result: 'allow' | 'deny'): Promise<number> {
  const text = (await mesh.run(role, [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/metrics'])).stdout;
  const m = new RegExp(`^ztmesh_authz_decisions_total\\{result="${result}",policy="${POLICY}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
async function policiesInForce(role: string): Promise<string[]> {
  const res = await mesh.run(role, [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/status']);
  return (JSON.parse(res.stdout) as { authz?: { policies: string[] } }).authz?.policies ?? [];
}

describe.skipIf(skip)('a central policy\'s port rule in transparent mode', () => {
  beforeAll(async () => {
    mesh = await createMesh('policy-port', ['a', 'b']);
    const dir = join(mesh.tmp, 'policies');
    await mkdir(dir);
    writePolicyFile(dir, 'api.yaml', [policyDoc('default', 'api-ports', {
      selector: { serviceAccounts: ['api'] },
      rules: [
        { from: [{ principals: [idOf('web')] }], to: [{ ports: [8080] }] },
        { from: [{ principals: [idOf('billing')] }], to: [{ ports: [9090] }] },
      ],
    })]);
    issuer = { kind: 'ca', ca: await startHubCa(mesh, ['--policy-dir', dir]) };
    [a, b] = await Promise.all([startPod(mesh, issuer, 'a', { sa: 'web' }), startPod(mesh, issuer, 'b', { sa: 'api' })]);
    // A knows B is meshed before it dials B, and B runs the set that holds the policy.
    await converge(issuer, [a, b]);
    await untilValue(() => policiesInForce('b'), (p) => p.includes(POLICY));
    [echoes[8080], echoes[9090]] = await Promise.all([startEcho(mesh, 'b', 8080), startEcho(mesh, 'b', 9090)]);
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('A reaches B on 8080 (allowed by the rule for that port) and is refused on 9090 by the same policy', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}\nB:\n${b.sidecar.output()}`));
    expect(await client(mesh, 'a', mesh.addr.b!, 8080, 'to-8080')).toMatchObject({ data: 'to-8080' });
    await echoes[8080]!.waitFor(/"received":"to-8080"/);
    expect(await decisions('b', 'allow')).toBeGreaterThan(0);
    expect(await decisions('b', 'deny')).toBe(0);

    const denied = await client(mesh, 'a', mesh.addr.b!, 9090, 'to-9090-should-not-arrive', 3000);
    expect(denied.data).toBe('');
    const line = JSON.parse(await b.sidecar.waitFor(/"reason":"spiffe_id_denied"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'transparent-inbound', peerId: a.spiffeId, policy: POLICY, port: 9090, msg: 'connection refused' });
    expect(logs(echoes[9090]!, { connection: true })).toHaveLength(0);
    expect(echoes[9090]!.output()).not.toContain('to-9090-should-not-arrive');
    expect(await decisions('b', 'deny')).toBeGreaterThan(0);
  });
});
