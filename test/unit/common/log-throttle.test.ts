// A flood of refusals logs a burst of full lines per window, then one summary naming the busiest sources.
import { describe, expect, it } from 'vitest';
import { LogThrottle, MAX_SUMMARY_SOURCES, TOP_SOURCES, type ThrottleSummary } from '../../../src/common/log-throttle.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('LogThrottle', () => {
  it('logs the first burst in full, counts the rest and sums them up when the window ends', async () => {
    const clock = new FakeClock();
    const summaries: ThrottleSummary[] = [];
    const t = new LogThrottle(clock, (s) => summaries.push(s), { windowMs: 10_000, burst: 3 });
    const sources = ['a', 'a', 'a', 'a', 'a', 'b', 'a', 'c', 'a', 'b'];
    expect(sources.map((s) => t.take('handshake_timeout', s))).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(t.take('connection_limit', 'a')).toBe(true); // another key has its own budget
    await clock.advance(9_999);
    expect(summaries).toEqual([]);
    await clock.advance(1);
    expect(summaries).toEqual([{
      key: 'handshake_timeout', suppressed: 7, windowMs: 10_000,
      topSources: [{ source: 'a', count: 4 }, { source: 'b', count: 2 }, { source: 'c', count: 1 }],
    }]);
    // The next window starts afresh with a full burst.
    expect(t.take('handshake_timeout', 'a')).toBe(true);
  });

  it('stays quiet when nothing was suppressed, and stop() reports what is still counted', async () => {
    const clock = new FakeClock();
    const summaries: ThrottleSummary[] = [];
    const t = new LogThrottle(clock, (s) => summaries.push(s), { windowMs: 1_000, burst: 1 });
    t.take('k', 'a');
    await clock.advance(5_000);
    expect(summaries).toEqual([]);
    t.take('k', 'a');
    t.take('k', 'b');
    t.stop();
    expect(summaries).toEqual([{ key: 'k', suppressed: 1, windowMs: 1_000, topSources: [{ source: 'b', count: 1 }] }]);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('remembers a bounded number of sources however many flood', async () => {
    const clock = new FakeClock();
    const summaries: ThrottleSummary[] = [];
    const t = new LogThrottle(clock, (s) => summaries.push(s), { windowMs: 1_000, burst: 0 });
    for (let i = 0; i < MAX_SUMMARY_SOURCES * 3; i++) t.take('k', `s${i}`);
    await clock.advance(1_000);
    expect(summaries[0]!.suppressed).toBe(MAX_SUMMARY_SOURCES * 3);
    expect(summaries[0]!.topSources).toHaveLength(TOP_SOURCES);
  });
});
