// The sidecar's authorization policy: awaiting (not ready) until the first set, each set compiled and swapped whole
// and told to subscribers (live revocation), an older CA leaves the open default, and the set is kept in
// identity.stateDir (0600) and restored from it. Fake clock, temp dir.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Readiness } from '../../../../src/common/readiness.js';
import type { MeshUpdate } from '../../../../src/mesh/codec.js';
import { decide } from '../../../../src/policy/decide.js';
import { POLICY_FILE, POLICY_READINESS, SidecarPolicy, type PolicyView } from '../../../../src/sidecar/mesh/sidecar-policy.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const TD = 'cluster.local';
const set = (version: string, defaultPolicy: 'allow' | 'deny'): MeshUpdate => ({
  kind: 'policy', version, base: '', policy: { defaultPolicy, policies: [{ namespace: 'shop', name: 'db', action: 'ALLOW', dryRun: false, rules: [{ from: [{ namespaces: ['shop'] }] }] }] },
});
const setup = (stateDir?: string) => {
  const readiness = new Readiness();
  const log = captureLogger();
  const p = new SidecarPolicy({ trustDomain: TD, clock: new FakeClock(), log: log.logger, readiness, ...(stateDir ? { stateDir } : {}) });
  return { readiness, p, log };
};
const allows = (v: PolicyView, peer: string) => v.state !== 'awaiting' && decide(v.compiled, { peerId: peer, port: 80 }).allow;

describe('SidecarPolicy', () => {
  it('awaits (not ready) until the first set, then swaps each whole and tells subscribers', () => {
    const { readiness, p } = setup();
    const seen: string[] = [];
    p.subscribe((v) => seen.push(v.state));
    expect(readiness.pendingParts()).toEqual([POLICY_READINESS]);
    expect(p.view()).toEqual({ state: 'awaiting' });
    expect(p.apply(set('v1', 'deny'))).toBeUndefined();
    expect(readiness.pendingParts()).toEqual([]);
    expect(p.status()).toMatchObject({ state: 'known', source: 'ca', version: 'v1', defaultPolicy: 'deny', policies: ['shop/db'], dryRun: [] });
    expect(allows(p.view(), `spiffe://${TD}/ns/shop/sa/web`)).toBe(true);
    expect(allows(p.view(), `spiffe://${TD}/ns/ops/sa/web`)).toBe(false);
    expect(p.apply({ kind: 'config', version: 'x', base: '', config: {} })).toMatchObject({ code: 'unknown_kind' });
    expect(seen).toEqual(['known']);
  });

  it('an older CA (no mesh stream) leaves the open default, and waits again once the stream is back', () => {
    const { readiness, p } = setup();
    p.unsupported(true);
    expect(readiness.pendingParts()).toEqual([]);
    expect(p.view().state).toBe('unsupported');
    expect(allows(p.view(), `spiffe://${TD}/ns/ops/sa/web`)).toBe(true);
    p.unsupported(false);
    expect(p.view()).toEqual({ state: 'awaiting' });
    expect(readiness.pendingParts()).toEqual([POLICY_READINESS]);
  });

  it('keeps the set in the state directory (0600) and restores it; a broken copy is refused and logged', async () => {
    const dir = tempDir('ztmesh-policy-unit-');
    const first = setup(dir);
    first.p.apply(set('v7', 'deny'));
    await first.p.close();
    expect(statSync(join(dir, POLICY_FILE)).mode & 0o777).toBe(0o600);
    const again = setup(dir);
    await again.p.restore();
    expect(again.p.status()).toMatchObject({ state: 'known', source: 'state-dir', version: 'v7', defaultPolicy: 'deny' });
    expect(again.readiness.pendingParts()).toEqual([]);
    writeFileSync(join(dir, POLICY_FILE), '{"version":"v8","policy":{"defaultPolicy":"open"}}');
    const broken = setup(dir);
    await broken.p.restore();
    expect(broken.p.view()).toEqual({ state: 'awaiting' });
    expect(broken.log.lines.some((l) => l.code === 'malformed_policy')).toBe(true);
  });
});
