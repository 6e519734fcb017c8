// The pod's metrics endpoint (`metrics.listen`, docs/design.md "Metrics in a pod"): the sidecar's own metrics, then
// the app's (`metrics.app`, scraped on loopback by app-scrape.ts), as one valid Prometheus text exposition.
//
// Invariants: the answer is always 200 with the sidecar's metrics, whatever the app does; when the app's part is
// missing, `ztmesh_app_metrics_up` is 0 in the same answer and the failure is counted by code; the app's text is
// sanitized once per scrape (not per request), against the names the sidecar exposes at that time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../common/clock.js';
import { LogThrottle } from '../../common/log-throttle.js';
import type { Logger } from '../../common/logger.js';
import type { Reply, Routes } from '../../admin/http-server.js';
import { AppScraper, type AppEndpoint, type ScrapeOutcome } from './app-scrape.js';
import { exposedNames, sanitizeExposition, type SanitizeResult } from './exposition.js';

export interface PodMetricsOptions {
  registry: Registry;
  /** The app's own endpoint; without it only the sidecar's metrics are served. */
  app?: AppEndpoint;
  clock: Clock;
  log: Logger;
  /** Replaces the scraper's bounds (tests). */
  scraper?: Partial<Pick<ConstructorParameters<typeof AppScraper>[0], 'timeoutMs' | 'maxBytes' | 'reuseMs' | 'host'>>;
}

/** What the pod's `GET /metrics` answers, and the metrics that describe the app's part. */
export class PodMetrics {
  private readonly scraper: AppScraper | undefined;
  private readonly up: Gauge | undefined;
  private readonly failures: Counter<'code'> | undefined;
  private readonly throttle: LogThrottle;
  /** The sanitized app part of the last scrape, and the sidecar names it was checked against. */
  private cached: { outcome: ScrapeOutcome; reservedKey: string; result: SanitizeResult } | undefined;
  private lastSeen = ' 0';

  constructor(private readonly opts: PodMetricsOptions) {
    this.throttle = new LogThrottle(opts.clock);
    if (!opts.app) return;
    this.up = new Gauge({
      name: 'ztmesh_app_metrics_up', help: 'Whether the last scrape of the app\'s own metrics endpoint (metrics.app) succeeded (1) or not (0).',
      registers: [opts.registry],
    });
    this.failures = new Counter({
      name: 'ztmesh_app_metrics_scrape_failures_total', help: 'Failed scrapes of the app\'s own metrics endpoint, by code.',
      labelNames: ['code'], registers: [opts.registry],
    });
    this.scraper = new AppScraper({ app: opts.app, clock: opts.clock, ...opts.scraper, onScrape: (o) => this.scraped(o) });
  }

  private scraped(o: ScrapeOutcome): void {
    this.up!.set(o.ok ? 1 : 0);
    if (o.ok) return;
    this.failures!.inc({ code: o.code });
    const suppressed = this.throttle.admit();
    if (suppressed !== undefined) {
      this.opts.log.warn({ code: o.code, err: o.message, ...(suppressed ? { suppressed } : {}) }, 'app metrics not scraped: serving the sidecar\'s metrics alone');
    }
  }

  /** The merged exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    const { registry } = this.opts;
    const outcome = await this.scraper?.scrape();
    const own = await registry.metrics();
    let body = own.endsWith('\n') || own === '' ? own : `${own}\n`;
    if (outcome?.ok) body += this.appPart(outcome, own).text;
    return { contentType: registry.contentType, body };
  }

  private appPart(outcome: ScrapeOutcome & { ok: true }, own: string): SanitizeResult {
    const reserved = exposedNames(own);
    const reservedKey = [...reserved].sort().join(',');
    if (this.cached?.outcome === outcome && this.cached.reservedKey === reservedKey) return this.cached.result;
    const result = sanitizeExposition(outcome.text, reserved);
    this.cached = { outcome, reservedKey, result };
    // Logged when what was renamed or dropped changes, not on every scrape.
    const seen = `${JSON.stringify(result.renamed)} ${result.droppedLines}`;
    if (seen !== this.lastSeen) {
      this.lastSeen = seen;
      const suppressed = this.throttle.admit();
      if (suppressed !== undefined && (Object.keys(result.renamed).length > 0 || result.droppedLines > 0)) {
        this.opts.log.info({ renamed: result.renamed, droppedLines: result.droppedLines, ...(suppressed ? { suppressed } : {}) },
          'app metrics merged: families the sidecar also exposes carry the app_ prefix; lines that do not parse are left out');
      }
    }
    return result;
  }

  /** `GET /metrics`, and nothing else: what the pod's metrics port serves. */
  routes(): Routes {
    return {
      'GET /metrics': async (): Promise<Reply> => {
        const m = await this.render();
        return { status: 200, body: m.body, contentType: m.contentType };
      },
    };
  }
}
