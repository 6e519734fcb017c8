// When the heap trimmer runs: once soon after a request, coalesced, spaced by the minimum interval, and
// switched off (one log line) where malloc_trim cannot be loaded.
import { describe, expect, it } from 'vitest';
import { HeapTrimmer, loadMallocTrim } from '../../../src/common/heap-trimmer.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { LogCapture } from '../../helpers/datapath.js';

const NOT_GLIBC = process.platform === 'linux' ? undefined : `malloc_trim is glibc's; this is ${process.platform}`;
if (NOT_GLIBC) console.warn(`skipping the malloc_trim load test: ${NOT_GLIBC}`);

describe('HeapTrimmer', () => {
  it('trims once on the next turn for any number of requests, then waits out the interval', async () => {
    const clock = new FakeClock();
    let trims = 0;
    const heap = new HeapTrimmer({ clock, log: new LogCapture().log, minIntervalMs: 5_000, load: () => () => { trims++; return true; } });
    heap.request();
    heap.request();
    await clock.advance(0);
    expect(trims).toBe(1);
    heap.request();
    await clock.advance(4_999);
    expect(trims).toBe(1);
    heap.request();
    await clock.advance(1);
    expect(trims).toBe(2);
    heap.request();
    heap.close();
    await clock.advance(60_000);
    expect(trims).toBe(2);
  });

  it('says once that it cannot trim, and stops trying', async () => {
    const clock = new FakeClock();
    const logs = new LogCapture();
    let loads = 0;
    const heap = new HeapTrimmer({ clock, log: logs.log, load: () => { loads++; throw new Error('no libc.so.6'); } });
    heap.request();
    await clock.advance(0);
    heap.request();
    await clock.advance(60_000);
    expect(loads).toBe(1);
    expect(logs.lines.filter((l) => /malloc_trim is not available/.test(String(l.msg)))).toHaveLength(1);
  });

  it.skipIf(NOT_GLIBC)('loads glibc malloc_trim on Linux and calls it', () => {
    expect(typeof loadMallocTrim()()).toBe('boolean');
  });
});
