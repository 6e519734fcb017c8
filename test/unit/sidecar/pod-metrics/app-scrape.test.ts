// The app scrape behind the pod's public metrics port is bounded: one scrape in flight, reused for a window, cut at
// its timeout and size; every failure is an outcome with a code, never a throw. A real HTTP app on 127.0.0.1:0.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AppScraper, type ScrapeOutcome } from '../../../../src/sidecar/pod-metrics/app-scrape.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { until } from '../../../helpers/until.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });
});

/** An app on 127.0.0.1:0; `handle` answers each request; `hits` counts them. */
async function app(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ port: number; hits: () => number; paths: string[] }> {
  let hits = 0;
  const paths: string[] = [];
  const s = http.createServer((req, res) => { hits++; paths.push(`${req.url} ${req.headers.accept}`); handle(req, res); });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { port: (s.address() as AddressInfo).port, hits: () => hits, paths };
}

describe('AppScraper', () => {
  it('scrapes the path it is given, asking for the text format, and shares one scrape among concurrent requests', async () => {
    let release: () => void = () => {};
    const a = await app((_req, res) => { release = () => res.end('up 1\n'); });
    const clock = new FakeClock();
    const outcomes: ScrapeOutcome[] = [];
    const s = new AppScraper({ app: { port: a.port, path: '/stats/prometheus' }, clock, onScrape: (o) => outcomes.push(o) });
    const all = Promise.all(Array.from({ length: 20 }, () => s.scrape()));
    await until(() => a.hits() === 1);
    release();
    const results = await all;
    expect(a.hits()).toBe(1);
    expect(a.paths[0]).toMatch(/^\/stats\/prometheus text\/plain;version=0\.0\.4/);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toMatchObject({ ok: true, text: 'up 1\n' });
    expect(outcomes).toHaveLength(1);
  });

  it('reuses a finished scrape within the window and scrapes again after it', async () => {
    const a = await app((_req, res) => res.end('up 1\n'));
    const clock = new FakeClock();
    const s = new AppScraper({ app: { port: a.port, path: '/metrics' }, clock, reuseMs: 1_000 });
    await s.scrape();
    await clock.advance(999);
    await s.scrape();
    expect(a.hits()).toBe(1);
    await clock.advance(1);
    await s.scrape();
    expect(a.hits()).toBe(2);
  });

  it('names each failure with a code and never rejects', async () => {
    const clock = new FakeClock();
    const scrape = (port: number, o: { maxBytes?: number } = {}) => new AppScraper({ app: { port, path: '/metrics' }, clock, ...o }).scrape();

    const closed = await app(() => {});
    const port = closed.port;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    expect(await scrape(port)).toMatchObject({ ok: false, code: 'connection_failed' });

    const status = await app((_req, res) => { res.statusCode = 500; res.end('boom'); });
    expect(await scrape(status.port)).toMatchObject({ ok: false, code: 'http_status', message: expect.stringContaining('HTTP 500') });

    const big = await app((_req, res) => res.end('x'.repeat(64 * 1024)));
    expect(await scrape(big.port, { maxBytes: 16 * 1024 })).toMatchObject({ ok: false, code: 'too_large' });

    const gzip = await app((_req, res) => { res.setHeader('content-encoding', 'gzip'); res.end('zz'); });
    expect(await scrape(gzip.port)).toMatchObject({ ok: false, code: 'encoded' });
  });

  it('cuts a scrape that takes longer than its timeout, on the injected clock', async () => {
    const silent = await app(() => {});
    const clock = new FakeClock();
    const s = new AppScraper({ app: { port: silent.port, path: '/metrics' }, clock, timeoutMs: 3_000 });
    const pending = s.scrape();
    await until(() => silent.hits() === 1);
    await clock.advance(2_999);
    let settled = false;
    void pending.then(() => { settled = true; });
    await clock.advance(0);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await pending).toMatchObject({ ok: false, code: 'timeout' });
  });
});
