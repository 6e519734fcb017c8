// The idle timeout cuts a connection with no traffic in either direction, and only such a connection.
// Socket inactivity timers are node's own (per-socket, no per-chunk JS), so this test uses a short real timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, echoApp, portOf, readAll, startMesh } from '../helpers/datapath.js';

describe('idle timeout', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app, outbound: { idleTimeout: '400ms' } });
  });
  afterAll(async () => { await mesh.close(); await app.close(); });

  it('keeps a busy connection and closes an idle one', async () => {
    const busy = await connect(portOf(mesh.outbound.address));
    const idle = await connect(portOf(mesh.outbound.address));
    const idleEnd = readAll(idle);
    let busyClosed = false;
    busy.on('close', () => { busyClosed = true; });
    busy.on('data', () => {});
    const started = Date.now();
    // Keep `busy` talking every 100 ms (well inside the timeout) until the idle one is cut.
    const ticker = setInterval(() => busy.write('.'), 100);
    await idleEnd;
    clearInterval(ticker);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(5_000);
    expect(busyClosed).toBe(false);
    busy.destroy();
    expect(mesh.client.logs.refusals()).toEqual([]);
  });
});
