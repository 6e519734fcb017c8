// The applier's command sequence, over a recording runner (the real thing runs in test/privileged/).
import { describe, expect, it } from 'vitest';
import { applyRules, cleanupRules, type CommandRunner } from '../../../../src/sidecar/intercept/iptables-apply.js';
import { defaultInterceptOptions } from '../../../../src/sidecar/intercept/iptables-rules.js';

function recorder(respond: (file: string, args: string[]) => { code: number; stdout?: string; stderr?: string }) {
  const calls: string[] = [];
  const run: CommandRunner = async (file, args, input) => {
    calls.push(`${file} ${args.join(' ')}${input ? ' <rules>' : ''}`);
    const r = respond(file, args);
    return { code: r.code, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  return { calls, run };
}

describe('applyRules', () => {
  it('restores the chains, then appends each jump only when -C says it is missing', async () => {
    const { calls, run } = recorder((file, args) => ({ code: file === 'iptables' && args[2] === '-C' && args[3] === 'OUTPUT' ? 0 : file === 'iptables' && args[2] === '-C' ? 1 : 0 }));
    await applyRules(defaultInterceptOptions(), [4], run);
    expect(calls).toEqual([
      'iptables-restore --noflush <rules>',
      'iptables -t nat -C PREROUTING -p tcp -j ZTMESH_INBOUND',
      'iptables -t nat -A PREROUTING -p tcp -j ZTMESH_INBOUND',
      'iptables -t nat -C OUTPUT -p tcp -j ZTMESH_OUTPUT',
    ]);
  });

  it('IPv6 uses ip6tables and makes ::6 a local address for the inbound forward', async () => {
    const { calls, run } = recorder(() => ({ code: 0 }));
    await applyRules(defaultInterceptOptions(), [6], run);
    expect(calls[0]).toBe('ip6tables-restore --noflush <rules>');
    expect(calls.at(-1)).toBe('ip -6 addr replace ::6/128 dev lo');
  });

  it('a failing restore names the tool, the step and the hint', async () => {
    const { run } = recorder((file) => (file === 'iptables-restore' ? { code: 4, stderr: 'iptables-restore: Permission denied (you must be root)' } : { code: 0 }));
    await expect(applyRules(defaultInterceptOptions(), [4], run)).rejects.toMatchObject({
      code: 'iptables_failed', message: expect.stringMatching(/installing the iptables nat rules.*needs root or NET_ADMIN/),
    });
  });
});

describe('cleanupRules', () => {
  it('deletes every copy of a jump, ignores absent chains and checks that none is left', async () => {
    let outputJumps = 2;
    const { calls, run } = recorder((file, args) => {
      if (file === 'iptables-save') return { code: 0, stdout: '*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' };
      if (args[2] === '-D' && args[3] === 'OUTPUT') return { code: outputJumps-- > 0 ? 0 : 1 };
      return { code: 1 };
    });
    await cleanupRules([4], run);
    expect(calls.filter((c) => c.includes('-D OUTPUT'))).toHaveLength(3);
    expect(calls.at(-1)).toBe('iptables-save -t nat');
  });

  it('fails when a ZTMESH_ chain survives', async () => {
    const { run } = recorder((file) => (file === 'iptables-save' ? { code: 0, stdout: ':ZTMESH_OUTPUT - [0:0]\n' } : { code: 1 }));
    await expect(cleanupRules([4], run)).rejects.toMatchObject({ code: 'cleanup_incomplete' });
  });
});
