// What every contender returns from start(): the entry port (proxy A), proxy B's port, and the pids to account.
import { processTree, waitForPort } from '../sys.mjs';

/**
 * Wraps two started proxy processes into the shape the harness uses.
 * `a` and `b` are startProcess() handles; pids are resolved lazily because nginx forks its worker after start.
 */
export async function pairOf({ name, a, b, entryPort, bPort, files = {} }) {
  const alive = () => a.alive && b.alive;
  try {
    await waitForPort(bPort, 15_000, alive);
    await waitForPort(entryPort, 15_000, alive);
  } catch (e) {
    await Promise.all([a.stop(500), b.stop(500)]);
    throw new Error(`${name} did not start: ${e.message}\n--- A:\n${a.out.text}\n--- B:\n${b.out.text}`);
  }
  return {
    entryPort, bPort, files,
    pidsA: () => processTree(a.pid),
    pidsB: () => processTree(b.pid),
    logs: () => ({ A: a.out.text, B: b.out.text }),
    async stop(graceMs = 3000) { await Promise.all([a.stop(graceMs), b.stop(graceMs)]); },
  };
}
