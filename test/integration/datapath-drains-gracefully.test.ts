// Graceful drain of the data path (startSidecarDataPath): stop accepting at once, let open connections finish within the
// drain timeout, reset what is left at the deadline. The deadline runs on the injected clock.
import net from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { API, connect, echoApp, makeCa, portOf, readAllOrReset, TestIdentity, until, LogCapture } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { Readiness } from '../../src/common/readiness.js';
import { sidecarConfigSchema } from '../../src/sidecar/config-schema.js';
import { startSidecarDataPath } from '../../src/sidecar/app.js';
import type { RunningDataPath } from '../../src/sidecar/datapath.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('graceful drain', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

  async function start() {
    const clock = new FakeClock(Date.now());
    const readiness = new Readiness();
    const logs = new LogCapture();
    const app = await echoApp();
    const config = sidecarConfigSchema.parse({
      trustDomain: 'cluster.local',
      inbound: [{ name: 'in', listen: '127.0.0.1:0', forward: `127.0.0.1:${app.port}`, handshakeTimeout: '1h' }],
      outbound: [{ name: 'out', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }],
    });
    const running: RunningDataPath = await startSidecarDataPath({ config, identity: new TestIdentity(makeCa(), API), log: logs.log, registry: new Registry(), clock, readiness });
    cleanups.push(async () => { await running.close(); await app.close(); });
    const port = portOf(running.statuses()[0]!.address);
    // A TCP connection that never starts its handshake stays open on the inbound listener.
    const open = await connect(port);
    await until(() => clock.pendingTimers().length === 1);
    return { clock, readiness, logs, running, port, open };
  }

  it('reports both listeners, ready once listening, and logs that the default policy is open', async () => {
    const { running, readiness, logs } = await start();
    expect(running.statuses().map((s) => [s.name, s.kind])).toEqual([['in', 'inbound'], ['out', 'outbound']]);
    expect(readiness.isReady()).toBe(true);
    expect(logs.lines.filter((l) => /no allow list of its own/.test(String(l.msg)))).toHaveLength(1);
  });

  it('stops accepting and resets what is still open at the deadline', async () => {
    const { clock, running, port, open } = await start();
    const ended = readAllOrReset(open);
    let done = false;
    const drained = running.drain(2_000).then(() => { done = true; });
    expect(await refused(port)).toBe(true);
    await clock.advance(1_999);
    expect(done).toBe(false);
    expect(open.destroyed).toBe(false);
    await clock.advance(1);
    await drained;
    expect((await ended).error?.code).toBe('ECONNRESET');
  });

  it('finishes early once the open connections close by themselves', async () => {
    const { clock, running, open, logs } = await start();
    let done = false;
    const drained = running.drain(60_000).then(() => { done = true; });
    await clock.advance(10);
    expect(done).toBe(false);
    open.destroy();
    await drained;
    // A peer leaving mid-handshake is not a refusal: no warn line, counted as an error.
    expect(logs.refusals()).toEqual([]);
    expect(running.statuses()[0]).toMatchObject({ connectionsTotal: 1, denied: 0, connectionsActive: 0 });
    expect(clock.pendingTimers().filter((ms) => ms > 0)).toEqual([]);
  });
});
