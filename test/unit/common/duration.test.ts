import { describe, expect, it } from 'vitest';
import { formatDuration, humanDuration, parseDuration } from '../../../src/common/duration.js';

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

describe('humanDuration', () => {
  it.each([
    [3649 * 86_400_000 + 23 * 3_600_000 + 59 * 60_000 + 19_000, '10y'], [29 * 60_000 + 10_000, '29m'], [29 * 60_000, '29m'],
    [59 * 60_000 + 40_000, '1h'], [5_400_000, '1h30m'], [3_725_000, '1h2m'], [45_000, '45s'], [500, '1s'], [0, '0s'],
    [2 * 86_400_000 + 3 * 3_600_000, '2d3h'], [400 * 86_400_000, '1y35d'], [-5_000, '-5s'], [59_700, '1m'], [12 * 3_600_000 + 1_000, '12h'],
  ])('%i → %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});
