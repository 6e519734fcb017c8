// Scrapes the app's own metrics endpoint over loopback for the pod's metrics port (docs/design.md "Metrics in a pod").
// The port it serves is reachable from the whole cluster, so what one request can make the app do is bounded here.
//
// Invariants: at most one scrape in flight (concurrent requests share it); a finished scrape, good or failed, is
// reused for REUSE_MS, so the app sees at most one scrape per window whatever the request rate; a scrape takes at
// most TIMEOUT_MS and MAX_BODY_BYTES, then is cut; scrape() never rejects: a failure is an outcome with a code.
import http from 'node:http';
import { formatHostPort } from '../../common/address.js';
import type { Clock } from '../../common/clock.js';

/** How long one scrape of the app may take; Prometheus's own scrape timeout is 10 s by default. */
export const APP_SCRAPE_TIMEOUT_MS = 3_000;
/** The largest app answer read; a larger one is cut and counted as `too_large`. */
export const APP_SCRAPE_MAX_BYTES = 8 * 1024 * 1024;
/** A finished scrape answers every request that arrives this long after it. */
export const APP_SCRAPE_REUSE_MS = 1_000;
/** Asks for the classic text format, which the merged answer is written in. */
const ACCEPT = 'text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5,*/*;q=0.1';

/** Why a scrape failed, as `ztmesh_app_metrics_scrape_failures_total{code}` counts it. */
export type ScrapeFailureCode = 'connection_failed' | 'timeout' | 'http_status' | 'too_large' | 'encoded';

export type ScrapeOutcome =
  | { ok: true; text: string; atMs: number }
  | { ok: false; code: ScrapeFailureCode; message: string; atMs: number };

export interface AppEndpoint {
  port: number;
  /** Absolute path, e.g. /metrics. */
  path: string;
}

export interface AppScraperOptions {
  app: AppEndpoint;
  clock: Clock;
  /** Loopback address the app is dialled on. */
  host?: string;
  timeoutMs?: number;
  maxBytes?: number;
  reuseMs?: number;
  /** Called once per real scrape (not per reuse), for metrics and logs. */
  onScrape?: (outcome: ScrapeOutcome) => void;
}

/** One GET of the app's metrics: never rejects, resolves with the body or a coded failure. */
export function fetchAppMetrics(o: { host: string; app: AppEndpoint; clock: Clock; timeoutMs: number; maxBytes: number }): Promise<ScrapeOutcome> {
  const where = `http://${formatHostPort(o.host, o.app.port)}${o.app.path}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { ok: true; text: string } | { ok: false; code: ScrapeFailureCode; message: string }) => {
      if (done) return;
      done = true;
      timer.cancel();
      req.destroy();
      resolve({ ...r, atMs: o.clock.now() } as ScrapeOutcome);
    };
    const req = http.request({
      host: o.host, port: o.app.port, path: o.app.path, method: 'GET', agent: false,
      headers: { accept: ACCEPT, 'user-agent': 'ztmesh-sidecar' },
    }, (res) => {
      if (res.statusCode !== 200) return finish({ ok: false, code: 'http_status', message: `${where} answered HTTP ${res.statusCode}` });
      const encoding = res.headers['content-encoding'];
      if (encoding && encoding !== 'identity') return finish({ ok: false, code: 'encoded', message: `${where} answered with content-encoding ${encoding}, which was not asked for` });
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > o.maxBytes) return finish({ ok: false, code: 'too_large', message: `${where} answered more than ${o.maxBytes} bytes` });
        chunks.push(c);
      });
      res.on('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, code: 'connection_failed', message: `${where}: ${e.code ?? e.message}` }));
    });
    const timer = o.clock.setTimeout(() => finish({ ok: false, code: 'timeout', message: `${where} did not answer within ${o.timeoutMs} ms` }), o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, code: 'connection_failed', message: `${where}: ${e.code ?? e.message}` }));
    req.end();
  });
}

/** The app's metrics, scraped on demand within the bounds above. */
export class AppScraper {
  private inFlight: Promise<ScrapeOutcome> | undefined;
  private last: ScrapeOutcome | undefined;

  constructor(private readonly opts: AppScraperOptions) {}

  /** The latest outcome if it is recent enough, else the scrape in flight, else a new one. */
  scrape(): Promise<ScrapeOutcome> {
    const o = this.opts;
    if (this.last && o.clock.now() - this.last.atMs < (o.reuseMs ?? APP_SCRAPE_REUSE_MS)) return Promise.resolve(this.last);
    this.inFlight ??= fetchAppMetrics({
      host: o.host ?? '127.0.0.1', app: o.app, clock: o.clock, timeoutMs: o.timeoutMs ?? APP_SCRAPE_TIMEOUT_MS, maxBytes: o.maxBytes ?? APP_SCRAPE_MAX_BYTES,
    }).then((outcome) => {
      this.last = outcome;
      this.inFlight = undefined;
      o.onScrape?.(outcome);
      return outcome;
    });
    return this.inFlight;
  }
}
