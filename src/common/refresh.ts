// When to renew a certificate: one pure function of its validity window. Half of the lifetime, ±10% jitter so a
// fleet issued together does not renew together (workload SVIDs and the CA's own).

/** Fraction of the lifetime after which a certificate is renewed. */
export const REFRESH_FRACTION = 0.5;
/** Relative jitter around the refresh point: ±10% of the half-life. */
export const REFRESH_JITTER = 0.1;
/** Never schedule a renewal sooner than this after the current one, so a tiny TTL cannot spin. */
export const MIN_REFRESH_DELAY_MS = 1_000;

/**
 * The instant (ms) to renew a certificate valid from `startMs` to `notAfterMs`, with `random` in [0,1).
 * Pass as start the later of notBefore and the time it was received: the CA backdates notBefore by up
 * to 60 s for clock skew, and counting that backdate would pull the renewal of a short-lived SVID forward.
 */
export function refreshAt(startMs: number, notAfterMs: number, random: number): number {
  const half = (notAfterMs - startMs) * REFRESH_FRACTION;
  const jitter = 1 + REFRESH_JITTER * (2 * random - 1);
  return Math.round(startMs + Math.max(0, half) * jitter);
}

/** Bounds of refreshAt over all random values, for tests and for showing to operators. */
export function refreshWindow(startMs: number, notAfterMs: number): { earliest: number; latest: number } {
  return { earliest: refreshAt(startMs, notAfterMs, 0), latest: refreshAt(startMs, notAfterMs, 1) };
}

/**
 * When to renew a certificate valid from `notBeforeMs` to `notAfterMs` that arrived at `nowMs`: refreshAt from the
 * later of the two, and never sooner than MIN_REFRESH_DELAY_MS from now.
 */
export function nextRefresh(notBeforeMs: number, notAfterMs: number, nowMs: number, random: number): number {
  return Math.max(refreshAt(Math.max(notBeforeMs, nowMs), notAfterMs, random), nowMs + MIN_REFRESH_DELAY_MS);
}
