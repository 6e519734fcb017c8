// Small statistics for the report: medians with min–max spread over rounds, and ratios between contenders.

/** Median of numbers (mean of the middle two for an even count); undefined for none. */
export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** {median, min, max, n} of a field over result records. */
export function summarize(records, pick) {
  const xs = records.map(pick).filter((x) => Number.isFinite(x));
  if (xs.length === 0) return undefined;
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** a / b when both are finite and b is not zero. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : undefined;
}
