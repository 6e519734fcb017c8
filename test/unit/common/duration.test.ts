import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/common/duration.js';

describe('parseDuration', () => {
  it.each([
    ['1h', 3_600_000], ['60s', 60_000], ['500ms', 500], ['1h30m', 5_400_000], ['90', 90_000], ['1.5s', 1_500], ['2d', 172_800_000],
  ])('accepts %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([['', undefined], ['1x', undefined], ['h', undefined], ['-1s', undefined], ['1h junk', undefined], ['1 h', undefined]])(
    'refuses %j', (text, ms) => expect(parseDuration(text)).toBe(ms));
});

describe('formatDuration', () => {
  it.each([[3_725_000, '1h2m5s'], [500, '500ms'], [60_000, '1m'], [0, '0ms'], [-5_000, '-5s']])('%i → %s', (ms, text) =>
    expect(formatDuration(ms)).toBe(text));
});
