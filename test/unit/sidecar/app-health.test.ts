import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { AppHealth, MIN_PROBE_INTERVAL_MS } from '../../../src/sidecar/app-probes/app-health.js';
import { runAppProbe, type ProbeOutcome } from '../../../src/sidecar/app-probes/probe-runner.js';
import { appProbesSchema } from '../../../src/sidecar/app-probes/app-probe-schema.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const PROBES = appProbesSchema.parse({ '/app-health/web/livez': { tcpSocket: { port: 1 } }, '/app-health/web/readyz': { tcpSocket: { port: 2 } } });

function stubbed() {
  const clock = new FakeClock();
  const calls: ((o: ProbeOutcome) => void)[] = [];
  const health = new AppHealth(PROBES, { clock, log: silentLogger(), run: () => new Promise((r) => calls.push(r)) });
  return { clock, calls, health };
}

describe('AppHealth', () => {
  it('runs one probe per path however many requests wait for it', async () => {
    const { calls, health } = stubbed();
    const waiting = Array.from({ length: 50 }, () => health.check('/app-health/web/livez')!);
    expect(calls).toHaveLength(1);
    calls[0]!({ ok: true, reason: 'TCP 1 accepted' });
    expect(new Set(await Promise.all(waiting)).size).toBe(1);
  });

  it('reuses a result younger than MIN_PROBE_INTERVAL_MS, then probes again', async () => {
    const { clock, calls, health } = stubbed();
    const first = health.check('/app-health/web/livez')!;
    calls[0]!({ ok: false, reason: 'x' });
    await first;
    await clock.advance(MIN_PROBE_INTERVAL_MS - 1);
    expect(await health.check('/app-health/web/livez')).toEqual({ ok: false, reason: 'x' });
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    void health.check('/app-health/web/livez');
    expect(calls).toHaveLength(2);
  });

  it('answers only configured paths; each path probes on its own', () => {
    const { calls, health } = stubbed();
    expect(health.check('/app-health/web/startupz')).toBeUndefined();
    expect(Object.keys(health.routes())).toEqual(['GET /app-health/web/livez', 'GET /app-health/web/readyz']);
    void health.check('/app-health/web/readyz');
    void health.check('/app-health/web/livez');
    expect(calls).toHaveLength(2);
  });
});

describe('runAppProbe', () => {
  const silent = net.createServer(() => {}); // accepts, never answers
  afterAll(() => { silent.close(); });

  it('fails an HTTP probe the app never answers once the probe timeout passes on the clock', async () => {
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const clock = new FakeClock();
    let outcome: ProbeOutcome | undefined;
    void runAppProbe({ httpGet: { path: '/', port, scheme: 'HTTP', httpHeaders: [] }, timeoutSeconds: 3 }, { host: '127.0.0.1', clock }).then((o) => { outcome = o; });
    await clock.advance(2_999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    expect(outcome).toEqual({ ok: false, reason: 'no answer within 3000 ms' });
  });

  it('refuses a probe timeout above the cap and a path outside /app-health/', () => {
    expect(appProbesSchema.safeParse({ '/app-health/web/livez': { tcpSocket: { port: 1 }, timeoutSeconds: 3600 } }).success).toBe(false);
    expect(appProbesSchema.safeParse({ '/status': { tcpSocket: { port: 1 } } }).success).toBe(false);
    expect(appProbesSchema.safeParse({ '/app-health/web/livez': { tcpSocket: { port: 1 }, exec: {} } }).success).toBe(false);
  });
});
