// Waiting on real progress (sockets, processes), never on a timer under test: those advance the fake clock instead.

/** Resolves once `cond()` holds, polling real socket progress (not a timer under test). */
export async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}
