// SIGTERM: the CA ends open WatchTrustBundle streams and exits 0 without waiting out the drain period.
import { describe, expect, it } from 'vitest';
import { startCa } from '../helpers/ca.js';

describe('ca drains on SIGTERM', () => {
  it('ends watch streams and exits 0', async () => {
    const ca = await startCa({ args: ['--drain', '10s'] });
    const stream = ca.client().WatchTrustBundle({});
    await new Promise((r) => stream.once('data', r));
    const ended = new Promise<string>((resolve) => {
      stream.on('end', () => resolve('end'));
      stream.on('error', () => resolve('error'));
    });
    const t0 = Date.now();
    ca.process.child.kill('SIGTERM');
    expect(await ca.process.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8_000); // did not sit out the 10 s drain: streams ended, nothing in flight
    expect(['end', 'error']).toContain(await ended);
    expect(ca.process.output()).toContain('"msg":"draining"');
    await ca.stop();
  });
});
