import { describe, expect, it } from 'vitest';
import { Backoff, DEFAULT_BACKOFF, backoffDelay } from '../../../src/common/backoff.js';

describe('backoffDelay', () => {
  it.each([
    [0, 0.5, 1_000], [1, 0.5, 2_000], [2, 0.5, 4_000], [3, 0.5, 8_000], [4, 0.5, 16_000], [5, 0.5, 30_000], [20, 0.5, 30_000],
    [0, 0, 800], [0, 0.999999, 1_200], [5, 0, 24_000], [5, 0.999999, 36_000],
  ])('attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(backoffDelay(DEFAULT_BACKOFF, attempt, random)).toBe(expected);
  });
});

describe('Backoff', () => {
  it('grows on failure, caps, and resets on success', () => {
    const b = new Backoff(DEFAULT_BACKOFF, () => 0.5);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(b.failures).toBe(7);
    b.reset();
    expect(b.next()).toBe(1_000);
  });
});
