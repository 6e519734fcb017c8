// The health port's /app-health/<container>/<probe> routes: each runs the app's original probe (probe-runner.ts).
// The port faces the network, so one path runs at most one probe at a time and reuses a result for a moment.
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { text, type Routes } from '../../admin/http-server.js';
import type { AppProbe, AppProbes } from './app-probe-schema.js';
import { runAppProbe, type ProbeOutcome, type ProbeTarget } from './probe-runner.js';

/**
 * A result younger than this answers further requests for the same path without probing the app again. Half the
 * kubelet's shortest period (1 s), so the kubelet always gets a fresh result, while a peer hammering the port
 * costs the app at most two probes per second per path.
 */
export const MIN_PROBE_INTERVAL_MS = 500;
/** Where the app listens, as seen from the sidecar in the same pod. */
export const APP_HOST = '127.0.0.1';

export interface AppHealthDeps {
  clock: Clock;
  log: Logger;
  /** Default APP_HOST. */
  host?: string;
  /** Replaces the probe runner (tests). */
  run?: (probe: AppProbe, target: ProbeTarget) => Promise<ProbeOutcome>;
}

interface PathState {
  probe: AppProbe;
  inFlight?: Promise<ProbeOutcome>;
  last?: { outcome: ProbeOutcome; atMs: number };
}

/** The configured app probes and what they last found. */
export class AppHealth {
  private readonly paths = new Map<string, PathState>();
  private readonly run: NonNullable<AppHealthDeps['run']>;
  private readonly target: ProbeTarget;

  constructor(probes: AppProbes, private readonly deps: AppHealthDeps) {
    for (const [path, probe] of Object.entries(probes)) this.paths.set(path, { probe });
    this.run = deps.run ?? runAppProbe;
    this.target = { host: deps.host ?? APP_HOST, clock: deps.clock };
  }

  /** Runs (or joins, or reuses) the probe behind `path`; undefined for a path that is not configured. */
  check(path: string): Promise<ProbeOutcome> | undefined {
    const state = this.paths.get(path);
    if (!state) return undefined;
    if (state.inFlight) return state.inFlight;
    const now = this.deps.clock.now();
    if (state.last && now - state.last.atMs < MIN_PROBE_INTERVAL_MS) return Promise.resolve(state.last.outcome);
    const running = this.run(state.probe, this.target).catch((e: unknown): ProbeOutcome => ({ ok: false, reason: (e as Error).message })).then((outcome) => {
      const before = state.last?.outcome.ok;
      state.last = { outcome, atMs: this.deps.clock.now() };
      state.inFlight = undefined;
      // One line per change, not per probe: a failing app probed every second does not flood the log.
      if (outcome.ok && before === false) this.deps.log.info({ path, detail: outcome.reason }, 'app probe passes again');
      if (!outcome.ok && before !== false) this.deps.log.warn({ path, code: 'app_probe_failed', detail: outcome.reason }, 'app probe failed');
      return outcome;
    });
    state.inFlight = running;
    return running;
  }

  /** GET routes for the health server: exactly the configured paths, 200 when the app passes, 503 otherwise. */
  routes(): Routes {
    const routes: Routes = {};
    for (const path of this.paths.keys()) {
      routes[`GET ${path}`] = async () => {
        const o = await this.check(path)!;
        return text(o.ok ? 200 : 503, `${o.ok ? 'ok' : 'app probe failed'}: ${o.reason}\n`);
      };
    }
    return routes;
  }
}
