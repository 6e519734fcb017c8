// Keeps the trust bundle current through the CA's WatchTrustBundle stream, reconnecting with backoff.
// Until the stream delivers (or while the CA is down) the bundle in force (bootstrap file first) stands.
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from '../common/backoff.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { BundleStreamSource, CaCallAuth, RawBundle } from './ca-client.js';
import { UNREACHED_CODES, UNTRUSTED_CA_CODES, type CaReachability } from './ca-reachability.js';

export interface BundleWatcherOptions {
  source: BundleStreamSource;
  /** What each stream presents and trusts, read at every (re)connect: the bundle in force, our SVID while valid. */
  auth: () => CaCallAuth;
  /** Applies a bundle (the manager swaps its reference when it is newer). */
  apply: (bundle: RawBundle) => void;
  reachability: CaReachability;
  clock: Clock;
  log: Logger;
  backoff?: BackoffPolicy;
  random?: () => number;
}

export interface BundleWatcherStatus {
  connected: boolean;
  lastUpdateMs: number | null;
  reconnects: number;
  lastError: { code: string; message: string } | null;
}

/** Watches the CA's trust bundle for the life of the sidecar. */
export class BundleWatcher {
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private stream: { cancel(): void } | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly st: BundleWatcherStatus = { connected: false, lastUpdateMs: null, reconnects: 0, lastError: null };

  constructor(private readonly opts: BundleWatcherOptions) {
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF, opts.random ?? Math.random);
    this.log = opts.log.child({ component: 'bundle-watcher' });
  }

  status(): BundleWatcherStatus {
    return { ...this.st };
  }

  /** Starts (or, after stop(), starts again) watching. */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.stream?.cancel();
    this.stream = undefined;
  }

  private connect(): void {
    if (this.stopped) return;
    this.stream = this.opts.source.watchBundle({
      onBundle: (bundle, address) => {
        if (this.stopped) return;
        if (!this.st.connected) this.log.info({ ca: address }, 'trust bundle stream connected');
        this.st.connected = true;
        this.st.lastUpdateMs = this.opts.clock.now();
        this.st.lastError = null;
        this.backoff.reset();
        this.opts.reachability.contact(address);
        this.opts.apply({ ...bundle, from: address });
      },
      onClose: (err) => {
        if (this.stopped) return;
        this.stream = undefined;
        this.st.connected = false;
        this.st.lastError = { code: err.code, message: err.message };
        if (UNREACHED_CODES.has(err.code)) this.opts.reachability.lost();
        else if (UNTRUSTED_CA_CODES.has(err.code)) this.opts.reachability.refused(err.code, err.message);
        const delay = this.backoff.next();
        this.st.reconnects++;
        this.log.warn({ code: err.code, err: err.message, ca: this.opts.reachability.current().address, retryInMs: delay }, 'trust bundle stream closed; reconnecting');
        this.timer = this.opts.clock.setTimeout(() => this.connect(), delay);
      },
    }, this.opts.auth());
  }
}
