// TlsContextHolder: one context per (SVID, bundle) change, the last good one kept on a bad credential,
// and the fail-closed check on the injected clock.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { TlsContextHolder } from '../../../src/sidecar/tls-context.js';
import { API, makeCa, TestIdentity } from '../../helpers/datapath.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('TlsContextHolder', () => {
  it('builds once per change and tells subscribers, late ones at once', () => {
    const id = new TestIdentity(makeCa(), API);
    const holder = new TlsContextHolder(id, new FakeClock(Date.now()), silentLogger());
    const seen: number[] = [];
    holder.subscribe((m) => seen.push(m.generation));
    expect(seen).toEqual([1]);
    id.watch.set({ ...id.current() }); // same SVID and bundle: no rebuild
    expect(seen).toEqual([1]);
    const svid = id.rotate();
    expect(seen).toEqual([1, 2]);
    expect(holder.current()!.svid).toBe(svid);
    const late: number[] = [];
    holder.subscribe((m) => late.push(m.generation));
    expect(late).toEqual([2]);
    holder.close();
  });

  it('keeps the last good context when a new credential cannot be used', () => {
    const id = new TestIdentity(makeCa(), API);
    const holder = new TlsContextHolder(id, new FakeClock(Date.now()), silentLogger());
    const good = holder.current()!;
    id.watch.set({ ...id.current(), svid: { ...good.svid, keyPem: ['BEGIN', 'END'].map((w) => `-----${w} PRIVATE KEY-----`).join('\nAAAA\n') + '\n' } });
    expect(holder.current()).toBe(good);
    holder.close();
  });

  it('is usable only while the SVID is valid on the clock and the state is not expired', () => {
    const id = new TestIdentity(makeCa(), API);
    const clock = new FakeClock(Date.now());
    const holder = new TlsContextHolder(id, clock, silentLogger());
    expect(holder.usable()).toBeDefined();
    clock.set(id.svid().notAfterMs);
    expect(holder.usable()).toBeUndefined();
    clock.set(Date.now());
    id.expire();
    expect(holder.usable()).toBeUndefined();
    id.rotate();
    expect(holder.usable()).toBeDefined();
    holder.close();
  });

  it('has nothing before the first SVID', () => {
    const id = new TestIdentity(makeCa(), API);
    id.watch.set({ state: 'initializing' });
    const holder = new TlsContextHolder(id, new FakeClock(Date.now()), silentLogger());
    expect(holder.current()).toBeUndefined();
    expect(holder.usable()).toBeUndefined();
    holder.close();
  });
});
