// Parses human durations ("90s", "1h", "500ms", "1h30m") into milliseconds.
// Config and CLI flags share this one parser so errors read the same everywhere.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Returns milliseconds, or undefined when the text is not a duration. A bare number means seconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined;
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (s === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART.exec(s); m; m = PART.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = PART.lastIndex;
  }
  return consumed === s.length ? Math.round(total) : undefined;
}

/** Formats milliseconds compactly for people: 3725000 → "1h2m5s". */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}

const HUMAN_UNITS: readonly (readonly [string, number])[] = [['y', 365 * 86_400_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]];

/** The index of the largest unit that fits in ms (seconds at least). */
function unitIndex(ms: number): number {
  const i = HUMAN_UNITS.findIndex(([, size]) => ms >= size);
  return i < 0 ? HUMAN_UNITS.length - 1 : i;
}

/**
 * Formats milliseconds the way a person reads them: the largest unit, plus the next one while the first is
 * below 10 ("1h30m", "29m", "2d3h", "10y"). 3649d23h59m19s → "10y"; 59m40s → "1h"; 59.7 s → "1m".
 */
export function humanDuration(ms: number): string {
  if (ms < 0) return `-${humanDuration(-ms)}`;
  // Round to the precision shown, then lay out again: rounding can carry into a larger unit (59.7 s → 1m).
  let rounded = ms;
  for (let pass = 0; pass < 3; pass++) {
    const i = unitIndex(rounded);
    const size = HUMAN_UNITS[i]![1];
    const precision = Math.floor(rounded / size) >= 10 || i === HUMAN_UNITS.length - 1 ? size : HUMAN_UNITS[i + 1]![1];
    const next = Math.round(rounded / precision) * precision;
    if (next === rounded && pass > 0) break;
    rounded = next;
  }
  const i = unitIndex(rounded);
  const [unit, size] = HUMAN_UNITS[i]!;
  const whole = Math.floor(rounded / size);
  const rest = rounded - whole * size;
  const small = HUMAN_UNITS[i + 1];
  return rest && small ? `${whole}${unit}${Math.round(rest / small[1])}${small[0]}` : `${whole}${unit}`;
}
