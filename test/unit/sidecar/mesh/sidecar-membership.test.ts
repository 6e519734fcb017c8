// The sidecar's membership: not ready until the first one, a refused update leaves the set as it was, an older CA
// means mTLS everywhere, and the set survives a restart in identity.stateDir. Fake clock, temp dir.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Readiness } from '../../../../src/common/readiness.js';
import { MEMBERSHIP_FILE, MEMBERSHIP_READINESS, MEMBERSHIP_SAVE_DELAY_MS, SidecarMembership } from '../../../../src/sidecar/mesh/sidecar-membership.js';
import type { MeshUpdate } from '../../../../src/mesh/codec.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const snapshot = (version: string, ips: string[]): MeshUpdate => ({
  kind: 'membership', version, base: '', remove: [], upsert: ips.map((ip) => ({ key: `pod/ns/${ip}`, cidrs: [`${ip}/32`], ports: [], identities: ['spiffe://cluster.local/ns/ns/sa/x'] })),
});

function setup(stateDir?: string) {
  const clock = new FakeClock();
  const readiness = new Readiness();
  const m = new SidecarMembership({ clock, log: captureLogger().logger, readiness, ...(stateDir ? { stateDir } : {}) });
  return { clock, readiness, m };
}

describe('SidecarMembership', () => {
  it('is not ready and meshes everything until the first membership; then follows it', () => {
    const { readiness, m } = setup();
    expect(readiness.pendingParts()).toEqual([MEMBERSHIP_READINESS]);
    expect(m.view('10.0.0.7', 80)).toEqual({ state: 'awaiting' });
    expect(m.apply(snapshot('a-1', ['10.0.0.7']))).toBeUndefined();
    expect(readiness.isReady()).toBe(true);
    expect(m.view('10.0.0.7', 80)).toMatchObject({ state: 'known', match: { key: 'pod/ns/10.0.0.7' } });
    expect(m.view('10.0.0.8', 80)).toEqual({ state: 'known', match: undefined });
  });

  it('refuses a delta on a version it does not hold, and keeps what it held', () => {
    const { m } = setup();
    m.apply(snapshot('a-1', ['10.0.0.7']));
    expect(m.apply({ kind: 'membership', version: 'a-3', base: 'a-2', upsert: [], remove: ['pod/ns/10.0.0.7'] })).toMatchObject({ code: 'base_mismatch' });
    expect(m.status()).toMatchObject({ version: 'a-1', entries: 1, lastRefusal: { code: 'base_mismatch' } });
    expect(m.view('10.0.0.7', 1)).toMatchObject({ match: { key: 'pod/ns/10.0.0.7' } });
  });

  it('with an older CA: ready, and every destination meshed', () => {
    const { readiness, m } = setup();
    m.unsupported(true);
    expect(readiness.isReady()).toBe(true);
    expect(m.view('10.0.0.7', 80)).toEqual({ state: 'unsupported' });
  });

  it('keeps the membership in the state directory (0600) and starts from it after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-membership-'));
    dirs.push(dir);
    const one = setup(dir);
    one.m.apply(snapshot('a-1', ['10.0.0.7', '10.0.0.8']));
    one.m.apply({ kind: 'membership', version: 'a-2', base: 'a-1', upsert: [], remove: ['pod/ns/10.0.0.8'] });
    await one.clock.advance(MEMBERSHIP_SAVE_DELAY_MS);
    await one.m.close();
    expect(JSON.parse(readFileSync(join(dir, MEMBERSHIP_FILE), 'utf8'))).toMatchObject({ version: 'a-2' });
    expect(statSync(join(dir, MEMBERSHIP_FILE)).mode & 0o777).toBe(0o600);
    const two = setup(dir);
    await two.m.restore();
    expect(two.readiness.isReady()).toBe(true);
    expect(two.m.status()).toMatchObject({ state: 'known', source: 'state-dir', version: 'a-2', entries: 1 });
    expect(two.m.view('10.0.0.8', 1)).toEqual({ state: 'known', match: undefined });
  });

  it('a kept file that does not decode is refused: the sidecar waits for the CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-membership-'));
    dirs.push(dir);
    writeFileSync(join(dir, MEMBERSHIP_FILE), JSON.stringify({ version: 'x', membership: { upsert: [{ key: 'k', cidrs: ['nope'] }] } }));
    const { m, readiness } = setup(dir);
    await m.restore();
    expect(readiness.pendingParts()).toEqual([MEMBERSHIP_READINESS]);
  });
});
