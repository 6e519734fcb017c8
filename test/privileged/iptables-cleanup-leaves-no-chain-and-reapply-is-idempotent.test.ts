// `ztmesh iptables` in a real network namespace: apply twice gives the same nat table, cleanup leaves no
// ZTMESH_ chain (IPv4 and IPv6) and is itself idempotent. Needs root; prints why it skips otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';

const skip = skipPrivileged('iptables-cleanup-leaves-no-chain-and-reapply-is-idempotent');
let mesh: Mesh;
const ztmesh = (...args: string[]) => mesh.run('a', [process.execPath, BIN, 'iptables', ...args]);
const save = async (tool: 'iptables-save' | 'ip6tables-save') => {
  const r = await mesh.run('a', [tool, '-t', 'nat']);
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, '')).join('\n');
};

describe.skipIf(skip)('ztmesh iptables apply / re-apply / cleanup', () => {
  beforeAll(async () => { mesh = await createMesh('iptables-cleanup', ['a']); });
  afterAll(async () => { await mesh?.destroy(); });

  it('a second apply leaves exactly the same rules, with one jump from each built-in chain', async () => {
    const flags = ['--ipv6', 'true', '--exclude-outbound-ports', '53', '--exclude-outbound-cidrs', '169.254.169.254/32,fd00:ec2::254/128'];
    const first = await ztmesh(...flags);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const v4 = await save('iptables-save');
    const v6 = await save('ip6tables-save');
    expect(await ztmesh(...flags)).toMatchObject({ code: 0 });
    expect(await save('iptables-save')).toBe(v4);
    expect(await save('ip6tables-save')).toBe(v6);
    for (const t of [v4, v6]) {
      expect(t.match(/^-A PREROUTING -p tcp -j ZTMESH_INBOUND$/gm)).toHaveLength(1);
      expect(t.match(/^-A OUTPUT -p tcp -j ZTMESH_OUTPUT$/gm)).toHaveLength(1);
      for (const c of ['ZTMESH_INBOUND', 'ZTMESH_REDIRECT', 'ZTMESH_IN_REDIRECT', 'ZTMESH_OUTPUT']) expect(t).toContain(`:${c} -`);
    }
    expect(v4).toContain('-A ZTMESH_OUTPUT -d 169.254.169.254/32 -j RETURN');
    expect(v6).toContain('-A ZTMESH_OUTPUT -d fd00:ec2::254/128 -j RETURN');
    expect(v6).toContain('-A ZTMESH_OUTPUT -s ::6/128 -o lo -j RETURN');
    // Changed flags replace the chains' contents instead of adding to them.
    expect(await ztmesh('--ipv6', 'true', '--exclude-outbound-ports', '5432')).toMatchObject({ code: 0 });
    const changed = await save('iptables-save');
    expect(changed).toContain('--dport 5432 -j RETURN');
    expect(changed).not.toContain('--dport 53 -j RETURN');
    expect(changed.match(/^-A OUTPUT -p tcp -j ZTMESH_OUTPUT$/gm)).toHaveLength(1);
  });

  it('--dry-run prints the rules and changes nothing', async () => {
    const before = await save('iptables-save');
    const r = await ztmesh('--dry-run', '--ipv6', 'false', '--proxy-uid', '2000', '--exclude-inbound-ports', '22');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('-A ZTMESH_OUTPUT -m owner --uid-owner 2000 -j RETURN');
    expect(r.stdout).toContain('-A ZTMESH_INBOUND -p tcp --dport 22 -j RETURN');
    expect(await save('iptables-save')).toBe(before);
  });

  it('--cleanup leaves no ZTMESH_ chain or jump, twice in a row, and the pod can be re-intercepted', async () => {
    const c1 = await ztmesh('--cleanup', '--ipv6', 'true');
    expect(c1.stderr).toBe('');
    expect(c1.code).toBe(0);
    for (const tool of ['iptables-save', 'ip6tables-save'] as const) expect(await save(tool)).not.toContain('ZTMESH_');
    expect(await ztmesh('--cleanup', '--ipv6', 'true')).toMatchObject({ code: 0 });
    expect(await save('iptables-save')).not.toContain('ZTMESH_');
    expect(await ztmesh('--ipv6', 'false')).toMatchObject({ code: 0 });
    expect(await save('iptables-save')).toContain('-A OUTPUT -p tcp -j ZTMESH_OUTPUT');
  });

  it('refuses bad flags with a message naming them, before touching the table', async () => {
    const r = await ztmesh('--exclude-outbound-cidrs', '10.0.0.0/33');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--exclude-outbound-cidrs: "10.0.0.0/33"');
  });
});
