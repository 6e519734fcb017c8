// Waiting on real progress (sockets, processes), never on a timer under test: those advance the fake clock instead.

/** Resolves once `cond()` holds, polling real socket progress (not a timer under test). */
export async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Resolves with the first value of `f()` that satisfies `ok`, asking again every `intervalMs` (real progress of
 * processes and sockets: a status page, a fresh token); rejects with the last value after `timeoutMs`.
 */
export async function untilValue<T>(f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
