// refreshAt: half-life ±10%, table-tested at the jitter extremes.
import { describe, expect, it } from 'vitest';
import { MIN_REFRESH_DELAY_MS, REFRESH_JITTER, refreshAt, refreshWindow } from '../../../src/common/refresh.js';

const H = 3_600_000;
describe('refreshAt', () => {
  it.each([
    // start, notAfter, random, expected offset from start
    [0, H, 0.5, H / 2],
    [0, H, 0, H * 0.45],
    [0, H, 1, H * 0.55],
    [1_000, 61_000, 0.5, 30_000],
    [1_000, 61_000, 0, 27_000],
    [1_000, 61_000, 0.999999, 33_000],
    [0, 24 * H, 0.25, 12 * H * 0.95],
    [5_000, 5_000, 0.5, 0],
    [10_000, 5_000, 0.5, 0],
  ])('start %d notAfter %d random %d → start + %d', (start, notAfter, random, offset) => {
    expect(refreshAt(start, notAfter, random)).toBe(Math.round(start + offset));
  });

  it('stays inside the window for any random value', () => {
    const { earliest, latest } = refreshWindow(0, 60_000);
    expect(earliest).toBe(27_000);
    expect(latest).toBe(33_000);
    for (let i = 0; i < 1000; i++) {
      const t = refreshAt(0, 60_000, Math.random());
      expect(t).toBeGreaterThanOrEqual(earliest);
      expect(t).toBeLessThanOrEqual(latest);
    }
    expect(REFRESH_JITTER).toBe(0.1);
    expect(MIN_REFRESH_DELAY_MS).toBe(1_000);
  });
});
