// The identity manager under a fake clock and a fake CA client: no sleeping, every timer is driven by advance().
import { createCrossCertificate, generateKeySync } from '../../../src/pki/index.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../src/common/backoff.js';
import { silentLogger } from '../../../src/common/logger.js';
import { CaReachability } from '../../../src/identity/ca-reachability.js';
import { hasValidSvid, makeTrustBundle, type IdentityState } from '../../../src/identity/credentials.js';
import { IdentityManager } from '../../../src/identity/manager.js';
import { FakeCaClient } from '../../helpers/fake-ca-client.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { makeCa, type TestCa } from '../../helpers/pki.js';

const TTL = 3_600_000;
const syncKey = async () => generateKeySync('ec-p256');

function setup(opts: { random?: number; ttlMs?: number } = {}) {
  const clock = new FakeClock();
  const ca: TestCa = makeCa('cluster.local', clock.now() - 86_400_000, 10 * 365 * 86_400_000);
  const client = new FakeCaClient(ca, clock);
  const reach = new CaReachability(clock, '127.0.0.1:1');
  const random = opts.random ?? 0.5;
  const manager = new IdentityManager({
    client, clock, log: silentLogger(), trustDomain: 'cluster.local', ttlMs: opts.ttlMs ?? TTL,
    bootstrapBundle: makeTrustBundle('cluster.local', [ca.certDer], 0), reachability: reach,
    random: () => random, generateKey: syncKey,
  });
  const states: IdentityState[] = [];
  manager.subscribe((s) => { if (states.at(-1) !== s.state) states.push(s.state); });
  return { clock, ca, client, reach, manager, states };
}

describe('IdentityManager', () => {
  let t: ReturnType<typeof setup>;
  beforeEach(() => {
    t = setup();
  });

  it('fetches with the token first, then renews at half-life with the SVID', async () => {
    t.manager.start();
    await t.clock.advance(0);
    const first = t.manager.current().svid!;
    expect(t.manager.current().state).toBe('available');
    expect(t.client.calls).toHaveLength(1);
    expect(t.client.calls[0]!.auth).toBe('token');
    expect(t.client.calls[0]!.ttlSeconds).toBe(3600);
    // random 0.5 → exactly half of the lifetime counted from receipt (notBefore is backdated 60 s).
    expect(t.manager.stats().nextAttemptMs).toBe(t.clock.now() + (first.notAfterMs - t.clock.now()) / 2);
    await t.clock.advance(TTL / 2 - 1);
    expect(t.client.calls).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.client.calls).toHaveLength(2);
    expect(t.client.calls[1]!.auth).toBe('svid');
    expect(t.manager.current().svid!.serialHex).not.toBe(first.serialHex);
    expect(t.manager.stats().rotations).toBe(2);
    expect(t.states).toEqual(['initializing', 'available', 'renewing', 'available']);
    expect(t.manager.stats().history.map((h) => [h.trigger, h.method])).toEqual([['initial', 'join_token'], ['refresh', 'renewal']]);
  });

  it.each([[0, 0.45], [0.999999, 0.55]])('with random %d the refresh lands at %d of the lifetime', async (random, fraction) => {
    const s = setup({ random });
    s.manager.start();
    await s.clock.advance(0);
    const start = s.clock.now();
    const at = s.manager.stats().nextAttemptMs!;
    expect(Math.abs(at - (start + TTL * fraction))).toBeLessThanOrEqual(1);
    await s.clock.advance(at - start - 1);
    expect(s.client.calls).toHaveLength(1);
    await s.clock.advance(1);
    expect(s.client.calls).toHaveLength(2);
  });

  it('uses a fresh key on every rotation', async () => {
    t.manager.start();
    await t.clock.advance(0);
    const keys = [t.manager.current().svid!.publicKeySha256];
    for (let i = 0; i < 4; i++) {
      const r = await t.manager.forceRotate();
      expect(r.ok).toBe(true);
      keys.push(t.manager.current().svid!.publicKeySha256);
    }
    expect(new Set(keys).size).toBe(5);
    expect(new Set(t.client.calls.map((c) => c.publicKey)).size).toBe(5);
    expect(t.manager.stats().history.map((h) => h.trigger)).toEqual(['initial', 'forced', 'forced', 'forced', 'forced']);
  });

  it('backs off 1 s, 2 s, 4 s … capped at 30 s with ±20% jitter, and resets on success', async () => {
    const lo = setup({ random: 0 });
    lo.client.failWith = 'unavailable';
    lo.manager.start();
    await lo.clock.advance(0);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const next = lo.manager.stats().nextAttemptMs! - lo.clock.now();
      delays.push(next);
      await lo.clock.advance(next);
    }
    expect(delays).toEqual([800, 1600, 3200, 6400, 12800, 24000, 24000, 24000]);
    expect(delays.map((_, i) => backoffDelay(DEFAULT_BACKOFF, i, 1))).toEqual([1200, 2400, 4800, 9600, 19200, 36000, 36000, 36000]);
    expect(lo.manager.stats().consecutiveFailures).toBe(9);
    expect(lo.manager.current().state).toBe('initializing');
    lo.client.failWith = undefined;
    await lo.clock.advance(24_000);
    expect(lo.manager.current().state).toBe('available');
    expect(lo.manager.stats().consecutiveFailures).toBe(0);
    // Reset: the next failure waits the initial delay again.
    lo.client.failWith = 'unavailable';
    await lo.manager.forceRotate();
    expect(lo.manager.stats().nextAttemptMs! - lo.clock.now()).toBe(800);
  });

  it('keeps the last good SVID through an outage, then expires exactly at notAfter', async () => {
    t.manager.start();
    await t.clock.advance(0);
    const svid = t.manager.current().svid!;
    expect(t.reach.current().reachable).toBe(true);
    t.client.failWith = 'unavailable';
    await t.clock.advance(TTL / 2);
    expect(t.manager.current().state).toBe('unavailable');
    expect(t.manager.current().svid).toBe(svid);
    expect(t.reach.current().reachable).toBe(false);
    expect(t.manager.stats().lastError?.code).toBe('unavailable');
    expect(hasValidSvid(t.manager.current(), t.clock.now())).toBe(true);
    await t.clock.advance(svid.notAfterMs - t.clock.now() - 1);
    expect(t.manager.current().state).toBe('unavailable');
    expect(t.manager.current().svid).toBe(svid);
    expect(t.manager.stats().consecutiveFailures).toBeGreaterThan(60);
    await t.clock.advance(1);
    expect(t.clock.now()).toBe(svid.notAfterMs);
    expect(t.manager.current().state).toBe('expired');
    expect(hasValidSvid(t.manager.current(), t.clock.now())).toBe(false);
    expect(t.states).toEqual(['initializing', 'available', 'renewing', 'unavailable', 'expired']);
  });

  it('recovers when the CA returns, with a new SVID and counters reset', async () => {
    t.manager.start();
    await t.clock.advance(0);
    t.client.failWith = 'unavailable';
    await t.clock.advance(TTL / 2 + 10_000);
    expect(t.manager.stats().consecutiveFailures).toBeGreaterThan(1);
    t.client.failWith = undefined;
    await t.clock.advance(31_000);
    const s = t.manager.stats();
    expect(t.manager.current().state).toBe('available');
    expect(s.consecutiveFailures).toBe(0);
    expect(s.lastError).toBeNull();
    expect(s.failuresTotal).toBeGreaterThan(1);
    expect(s.rotations).toBe(2);
    expect(t.reach.current().reachable).toBe(true);
  });

  it('recovers from expired', async () => {
    t.manager.start();
    await t.clock.advance(0);
    t.client.failWith = 'unavailable';
    await t.clock.advance(TTL + 1000);
    expect(t.manager.current().state).toBe('expired');
    t.client.failWith = undefined;
    await t.clock.advance(31_000);
    expect(t.manager.current().state).toBe('available');
    expect(hasValidSvid(t.manager.current(), t.clock.now())).toBe(true);
  });

  it('stays initializing with the CA\'s refusal code as last error; a refusal still counts as contact', async () => {
    t.client.failWith = 'unauthenticated';
    t.manager.start();
    await t.clock.advance(0);
    expect(t.manager.current().state).toBe('initializing');
    expect(t.manager.current().svid).toBeUndefined();
    expect(t.manager.stats().lastError).toMatchObject({ code: 'unauthenticated' });
    expect(t.reach.current().reachable).toBe(true);
  });

  it('falls back to the token when the CA refuses the SVID for renewal', async () => {
    t.manager.start();
    await t.clock.advance(0);
    t.client.refuseSvid = true;
    const r = await t.manager.forceRotate();
    expect(r.ok).toBe(true);
    expect(t.client.calls.map((c) => c.auth)).toEqual(['token', 'svid', 'token']);
  });

  it('gives a late subscriber the current SVID at once', async () => {
    t.manager.start();
    await t.clock.advance(0);
    let seen: string | undefined;
    t.manager.subscribe((s) => { seen = s.svid?.serialHex; });
    expect(seen).toBe(t.manager.current().svid!.serialHex);
  });

  it('refuses a certificate that does not chain to the bundle and keeps the old one', async () => {
    t.manager.start();
    await t.clock.advance(0);
    const good = t.manager.current().svid!;
    (t.client as unknown as { ca: TestCa }).ca = makeCa('cluster.local', t.clock.now() - 1000);
    const r = await t.manager.forceRotate();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('untrusted_chain');
    expect(t.manager.current().svid).toBe(good);
    expect(t.manager.current().state).toBe('unavailable');
  });

  it('swaps in a newer trust bundle from the CA and ignores a stale one', async () => {
    const other = makeCa('cluster.local', t.clock.now() - 1000);
    const vouch = createCrossCertificate({ rootDer: other.certDer, issuer: t.ca.issuer, trustDomain: 'cluster.local', nowMs: t.clock.now() });
    expect(t.manager.applyBundle({ trustDomain: 'cluster.local', rootsDer: [t.ca.certDer, other.certDer], sequence: 5, crossCertsDer: [vouch] })).toBe(true);
    expect(t.manager.current().bundle!.sequence).toBe(5);
    expect(t.manager.applyBundle({ trustDomain: 'cluster.local', rootsDer: [t.ca.certDer], sequence: 4 })).toBe(false);
    expect(t.manager.applyBundle({ trustDomain: 'other.org', rootsDer: [t.ca.certDer], sequence: 9 })).toBe(false);
    expect(t.manager.current().bundle!.rootsDer).toHaveLength(2);
    expect(t.manager.stats().bundleSource).toBe('ca');
  });

  it('refuses an unvouched root, logs the code and the CA, records it, and keeps the last good bundle', async () => {
    const cap = captureLogger();
    const m = new IdentityManager({
      client: t.client, clock: t.clock, log: cap.logger, trustDomain: 'cluster.local', ttlMs: TTL,
      bootstrapBundle: makeTrustBundle('cluster.local', [t.ca.certDer], 0), reachability: t.reach, generateKey: syncKey,
    });
    const before = m.current().bundle;
    const attacker = makeCa('cluster.local', t.clock.now() - 1000);
    expect(m.applyBundle({ trustDomain: 'cluster.local', rootsDer: [t.ca.certDer, attacker.certDer], sequence: 9, from: '10.0.0.9:15012' })).toBe(false);
    expect(m.current().bundle).toBe(before);
    expect(m.stats().bundleRefusal).toMatchObject({ code: 'bundle_unvouched_root', from: '10.0.0.9:15012', atMs: t.clock.now() });
    expect(cap.lines.find((l) => l.msg === 'trust bundle from the CA refused; keeping the last good one')).toMatchObject({ code: 'bundle_unvouched_root', ca: '10.0.0.9:15012' });
    // The same CA's next, honest bundle is still taken.
    expect(m.applyBundle({ trustDomain: 'cluster.local', rootsDer: [t.ca.certDer], sequence: 10 })).toBe(true);
    expect(m.stats().bundleSource).toBe('ca');
  });

  it.each([
    ['ca_identity_mismatch', true, 'ca_identity_mismatch'],
    ['ca_untrusted', true, 'ca_untrusted'],
    ['permission_denied', true, 'permission_denied'],
    ['unavailable', false, undefined],
    ['deadline_exceeded', false, undefined],
  ] as const)('a %s failure: CA reachable=%s, refusal %s', async (code, reachable, refusal) => {
    t.client.failWith = code;
    t.manager.start();
    await t.clock.advance(0);
    expect(t.reach.current().reachable).toBe(reachable);
    expect(t.reach.current().refusal?.code).toBe(refusal);
    // The next certificate clears a standing refusal.
    t.client.failWith = undefined;
    await t.clock.advance(t.manager.stats().nextAttemptMs! - t.clock.now());
    expect(t.manager.current().state).toBe('available');
    expect(t.reach.current()).toMatchObject({ reachable: true, refusal: null });
  });

  it('a bundle without the root its SVID chains to makes it untrusted at once: not valid, renewed now with the token, until a renewal succeeds', async () => {
    t.manager.start();
    await t.clock.advance(0);
    const old = t.manager.current().svid!;
    const next = makeCa('cluster.local', t.clock.now() - 1000);
    const vouch = createCrossCertificate({ rootDer: next.certDer, issuer: t.ca.issuer, trustDomain: 'cluster.local', nowMs: t.clock.now() });
    expect(t.manager.applyBundle({ trustDomain: 'cluster.local', rootsDer: [t.ca.certDer, next.certDer], sequence: 1, crossCertsDer: [vouch] })).toBe(true);
    expect(t.manager.current().state).toBe('available');
    // `ca root activate`, then `retire --force` while this SVID of the old root is still valid.
    (t.client as unknown as { ca: TestCa }).ca = next;
    t.client.failWith = 'unavailable';
    const calls = t.client.calls.length;
    expect(t.manager.applyBundle({ trustDomain: 'cluster.local', rootsDer: [next.certDer], sequence: 2 })).toBe(true);
    expect(t.manager.current().state).toBe('untrusted');
    expect(hasValidSvid(t.manager.current(), t.clock.now())).toBe(false);
    await t.clock.advance(0);
    expect(t.client.calls.slice(calls).map((c) => c.auth)).toEqual(['token']);
    expect(t.manager.current()).toMatchObject({ state: 'untrusted', svid: old });
    t.client.failWith = undefined;
    await t.clock.advance(t.manager.stats().nextAttemptMs! - t.clock.now());
    expect(t.manager.current().state).toBe('available');
    expect(t.manager.current().svid!.serialHex).not.toBe(old.serialHex);
    expect(t.manager.stats().history.map((h) => h.trigger)).toEqual(['initial', 'retry']);
    expect(t.states).toEqual(['initializing', 'available', 'untrusted', 'available']);
  });

  it('after a failure, a changed token file is tried at once instead of after the backoff', async () => {
    t.manager.tokenFileChanged();
    expect(t.client.calls).toHaveLength(0);
    t.client.failWith = 'permission_denied';
    t.manager.start();
    await t.clock.advance(0);
    expect(t.client.calls).toHaveLength(1);
    t.client.failWith = undefined;
    t.manager.tokenFileChanged();
    await t.clock.advance(0);
    expect(t.client.calls).toHaveLength(2);
    expect(t.manager.current().state).toBe('available');
    expect(t.manager.stats().history.map((h) => h.trigger)).toEqual(['token_changed']);
    t.manager.tokenFileChanged();
    await t.clock.advance(0);
    expect(t.client.calls).toHaveLength(2);
  });

  it('stop() cancels every timer', async () => {
    t.manager.start();
    await t.clock.advance(0);
    expect(t.clock.pendingTimers().length).toBe(2);
    t.manager.stop();
    expect(t.clock.pendingTimers()).toEqual([]);
  });
});
