// The stream window a tunnel end advertises: the configured window while the open streams fit the connection's
// buffer budget, smaller powers of two past it (never under 64 KiB), and growth back only with room to spare.
import { describe, expect, it } from 'vitest';
import { MIN_STREAM_WINDOW, StreamWindowGovernor, streamWindowFor } from '../../../../src/sidecar/tunnel/protocol.js';

const MiB = 1024 * 1024;
const limits = { streamWindow: 1 * MiB, connectionBuffer: 32 * MiB };

describe('streamWindowFor', () => {
  it('keeps the configured window while streams × window fits the budget', () => {
    for (const n of [0, 1, 16, 32]) expect(streamWindowFor(n, limits)).toBe(1 * MiB);
  });

  it('shrinks to the largest power of two that fits past it, and never below the minimum', () => {
    expect(streamWindowFor(33, limits)).toBe(512 * 1024);
    expect(streamWindowFor(128, limits)).toBe(256 * 1024);
    expect(streamWindowFor(10_000, limits)).toBe(MIN_STREAM_WINDOW);
  });

  it('asks for the window to fit twice over when growing', () => {
    expect(streamWindowFor(17, limits, true)).toBe(512 * 1024);
    expect(streamWindowFor(16, limits, true)).toBe(1 * MiB);
  });
});

describe('StreamWindowGovernor', () => {
  const fake = () => {
    const sent: number[] = [];
    return { sent, session: { destroyed: false, settings: (s: { initialWindowSize: number }) => void sent.push(s.initialWindowSize) } };
  };

  it('sends SETTINGS only when the window must change: shrinking at once, growing back with hysteresis', () => {
    const { sent, session } = fake();
    const g = new StreamWindowGovernor(session, limits);
    for (let n = 1; n <= 32; n++) g.update(n);
    expect(sent).toEqual([]); // allowed: within budget, nothing to say
    g.update(33);
    expect(sent).toEqual([512 * 1024]); // refused the full window past the budget
    g.update(32);
    g.update(17);
    expect(sent).toEqual([512 * 1024]); // no flapping around the step
    g.update(16);
    expect(sent).toEqual([512 * 1024, 1 * MiB]);
    expect(g.current).toBe(1 * MiB);
  });

  it('keeps its window when the session refuses another SETTINGS, and says nothing to a closed session', () => {
    const refusing = { destroyed: false, settings: () => { throw new Error('ERR_HTTP2_MAX_PENDING_SETTINGS_ACK'); } };
    const g = new StreamWindowGovernor(refusing, limits);
    g.update(100);
    expect(g.current).toBe(1 * MiB);
    const { sent, session } = fake();
    session.destroyed = true;
    new StreamWindowGovernor(session, limits).update(100);
    expect(sent).toEqual([]);
  });
});
