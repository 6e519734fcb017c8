// The bundle watcher under a fake clock: applies every streamed bundle, reconnects with backoff, resets on data,
// and marks the CA unreachable when the stream breaks.
import { describe, expect, it } from 'vitest';
import { CaClientError } from '../../../src/common/errors.js';
import { silentLogger } from '../../../src/common/logger.js';
import { BundleWatcher } from '../../../src/identity/bundle-watcher.js';
import type { BundleStreamHandlers, CaCallAuth, RawBundle } from '../../../src/identity/ca-client.js';
import { CaReachability } from '../../../src/identity/ca-reachability.js';
import type { TrustBundle } from '../../../src/identity/credentials.js';
import { FakeClock } from '../../helpers/fake-clock.js';

class FakeSource {
  streams: BundleStreamHandlers[] = [];
  auths: CaCallAuth[] = [];
  cancelled = 0;
  watchBundle(h: BundleStreamHandlers, auth: CaCallAuth) {
    this.streams.push(h);
    this.auths.push(auth);
    return { cancel: () => { this.cancelled++; } };
  }
  get last() { return this.streams.at(-1)!; }
}

/** The credential each (re)connect presents: a new one every call, so a test sees that it is read each time. */
function countingAuth(): () => CaCallAuth {
  let n = 0;
  return () => ({ roots: { sequence: ++n } as TrustBundle });
}

const bundle = (sequence: number): RawBundle => ({ trustDomain: 'example.org', rootsDer: [Buffer.from('x')], sequence });

describe('BundleWatcher', () => {
  it('applies bundles, reconnects with growing backoff and resets it after data', async () => {
    const clock = new FakeClock();
    const source = new FakeSource();
    const applied: number[] = [];
    const reach = new CaReachability(clock, 'ca:1');
    const w = new BundleWatcher({ source, auth: countingAuth(), apply: (b) => applied.push(b.sequence), reachability: reach, clock, log: silentLogger(), random: () => 0.5 });
    w.start();
    expect(source.streams).toHaveLength(1);
    source.last.onBundle(bundle(1), 'ca:1');
    source.last.onBundle(bundle(2), 'ca:1');
    expect(applied).toEqual([1, 2]);
    expect(reach.current().reachable).toBe(true);
    expect(w.status().connected).toBe(true);

    source.last.onClose(new CaClientError('unavailable', 'gone'));
    expect(reach.current().reachable).toBe(false);
    expect(w.status()).toMatchObject({ connected: false, lastError: { code: 'unavailable' } });
    expect(clock.pendingTimers()).toEqual([1000]);
    await clock.advance(1000);
    expect(source.streams).toHaveLength(2);
    source.last.onClose(new CaClientError('unavailable', 'gone'));
    expect(clock.pendingTimers()).toEqual([2000]);
    await clock.advance(2000);
    source.last.onClose(new CaClientError('unavailable', 'gone'));
    expect(clock.pendingTimers()).toEqual([4000]);
    await clock.advance(4000);
    source.last.onBundle(bundle(3), 'ca:1');
    source.last.onClose(new CaClientError('unavailable', 'gone'));
    expect(clock.pendingTimers()).toEqual([1000]);
    expect(applied).toEqual([1, 2, 3]);
    // Every reconnect presents the credential of that moment (the bundle in force, the SVID then valid).
    expect(source.auths.map((a) => a.roots.sequence)).toEqual([1, 2, 3, 4]);

    w.stop();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('a refusal (not a transport error) does not mark the CA unreachable', () => {
    const clock = new FakeClock();
    const source = new FakeSource();
    const reach = new CaReachability(clock, 'ca:1');
    reach.contact();
    const w = new BundleWatcher({ source, auth: countingAuth(), apply: () => {}, reachability: reach, clock, log: silentLogger() });
    w.start();
    source.last.onClose(new CaClientError('unauthenticated', 'no'));
    expect(reach.current().reachable).toBe(true);
    w.stop();
    expect(source.cancelled).toBe(0);
  });
});
