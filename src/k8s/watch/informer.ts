// A generic informer: list a collection of the Kubernetes API, then watch it from the list's resourceVersion, keeping
// only the consumer's projection of each object. Every watch of ztmesh (Namespaces, Pods, Services, EndpointSlices,
// AuthorizationPolicies) runs through this loop; docs/design.md "Kubernetes watches" is its contract.
//
// Why not client-node's makeInformer/ListWatch (1.4): it stops for good on any error that is not a 410 (no retry,
// no backoff), keeps every whole object in memory, does not ask for bookmarks, and its Watch swallows lines that are
// not JSON without a word and buffers a line without bound. Its Watch's own 30 s timeout is set, then overwritten.
// So the loop is ours and small; the requests go through k8s/kube-client.ts (in-cluster token and CA re-read per
// request) or k8s/kubeconfig-client.ts (client-node's KubeConfig: contexts, exec plugins), and the types are
// client-node's.
//
// Invariants:
// - One request at a time: a paged list (limit/continue) or one watch. A relist builds its whole map of projections
//   before it swaps the cache, and reports as deleted every key it no longer has (deleted while the watch was down).
// - A watch resumes from the last resourceVersion seen, bookmarks included; only a 410 (HTTP status or ERROR event)
//   or a failed list leads to a relist. A resumed watch neither repeats nor loses an event.
// - Failures retry with backoff (jitter, cap) on the injected clock, reset by a watch that delivers events; a watch that
//   ends cleanly after delivering events is resumed at once. Nothing here throws into the caller or stops for good.
// - A malformed line, object or projection is skipped, counted and logged (throttled); a throwing handler is logged.
// - Errors and status carry the API server's Status message and our own words, never a header or a token.
import type { Clock, TimerHandle } from '../../common/clock.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from '../../common/backoff.js';
import { KubeApiError, ZtmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { LogThrottle } from '../../common/log-throttle.js';
import type { Readiness } from '../../common/readiness.js';
import { KubeUnreachableError, type KubeClient } from '../kube-client.js';
import { apiError, KUBE_API_CODES, type ApiAction } from './api-status.js';
import { ProjectedCache, type CacheChange, type CacheView } from './projected-cache.js';
import { listPath, objectKey, resourceScope, watchPath, type ResourceRef, type WatchedObject } from './resource.js';
import { decodeWatchLine, LineSplitter, MAX_EVENT_LINE_BYTES, objectProblem, type WatchEvent } from './watch-event.js';

/** Objects per list page: client-go's reflector pages by 500, so a 10,000-pod list never sits in memory whole. */
export const LIST_PAGE_SIZE = 500;
/** A watch asks the server to end it after 5 to 10 minutes (random, as client-go), so that watches spread out. */
export const WATCH_TIMEOUT_MIN_S = 300;
/** The watch is aborted on our side this long after the server should have ended it (a silent, dead connection). */
export const WATCH_DEADLINE_GRACE_MS = 60_000;
/** How much of a refusal's body is read to find its Status message. */
export const MAX_STATUS_BODY_BYTES = 64 * 1024;

/** What the consumer hears. Values are projections; handlers run synchronously in event order. */
export interface InformerHandlers<T> {
  added?(key: string, value: T): void;
  updated?(key: string, value: T, old: T): void;
  /** Also called by a relist for each object that is gone (deleted while the watch was down). */
  deleted?(key: string, old: T): void;
  /** After each complete list: the first (relist 0) and each relist after a 410 or a failure. */
  synced?(report: SyncReport): void;
}

/** What one complete list changed. */
export interface SyncReport {
  /** 0 for the first list, then 1, 2, ... */
  relist: number;
  objects: number;
  added: number;
  updated: number;
  /** Keys the list no longer has: deleted while no watch was running. */
  removed: string[];
}

/** For readiness, /status and `ztmesh check`. */
export interface InformerStatus {
  /** "pods at the cluster scope", "authorizationpolicies.ztmesh.io in namespace shop" */
  resource: string;
  /** A first list has completed (then stays true: the cache keeps the last known state through outages). */
  synced: boolean;
  /** A watch is open now. */
  watching: boolean;
  objects: number;
  resourceVersion?: string;
  /** Lists after the first. */
  relists: number;
  /** Watches opened after the first. */
  watchRestarts: number;
  /** Lines, objects and projections skipped as malformed. */
  malformedSkipped: number;
  lastError?: { code: string; message: string; atMs: number };
  lastSyncMs?: number;
}

export interface InformerOptions<T> {
  client: KubeClient;
  resource: ResourceRef;
  /** Keeps what the consumer needs of an object; undefined: not of interest (absent from the cache). May throw. */
  project(obj: WatchedObject): T | undefined;
  handlers: InformerHandlers<T>;
  clock: Clock;
  log: Logger;
  /** When a new projection counts as a change (default: deep equality). */
  equals?(a: T, b: T): boolean;
  backoff?: BackoffPolicy;
  random?: () => number;
  pageSize?: number;
}

/** List then watch one collection; see the invariants above. */
export class Informer<T> {
  /** The projections by key ("namespace/name", or "name" for cluster-scoped objects), read-only. */
  readonly cache: CacheView<T>;
  private readonly store: ProjectedCache<T>;
  private readonly backoff: Backoff;
  private readonly throttle: LogThrottle;
  private readonly log: Logger;
  private readonly scope: string;
  private readonly random: () => number;
  private rv: string | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private controller: AbortController | undefined;
  private timer: TimerHandle | undefined;
  private wake: (() => void) | undefined;
  private lists = 0;
  private watches = 0;
  private malformedSkipped = 0;
  private watching = false;
  private lastError: InformerStatus['lastError'];
  private lastSyncMs: number | undefined;
  private markSynced!: () => void;
  private readonly firstSync = new Promise<void>((resolve) => { this.markSynced = resolve; });
  private isSynced = false;

  constructor(private readonly opts: InformerOptions<T>) {
    this.store = new ProjectedCache<T>(opts.equals);
    this.cache = this.store;
    this.random = opts.random ?? Math.random;
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF, this.random);
    this.throttle = new LogThrottle(opts.clock);
    this.scope = resourceScope(opts.resource);
    this.log = opts.log.child({ component: 'k8s-watch', resource: this.scope });
  }

  /** Starts listing and watching; idempotent. */
  start(): void {
    this.running ??= this.run();
  }

  /** Aborts the request in flight and any wait; resolves once the loop has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.timer?.cancel();
    this.wake?.();
    return this.running ?? Promise.resolve();
  }

  /** Resolves after the first complete list (never, if stopped before). */
  whenSynced(): Promise<void> {
    return this.firstSync;
  }

  /** Registers `name` with `readiness`, pending until the first complete list. */
  readyOnFirstSync(readiness: Readiness, name: string): void {
    const task = readiness.register(name);
    void this.firstSync.then(() => task.ready());
  }

  status(): InformerStatus {
    return {
      resource: this.scope,
      synced: this.isSynced,
      watching: this.watching,
      objects: this.cache.size,
      ...(this.rv !== undefined ? { resourceVersion: this.rv } : {}),
      relists: Math.max(0, this.lists - 1),
      watchRestarts: Math.max(0, this.watches - 1),
      malformedSkipped: this.malformedSkipped,
      ...(this.lastError ? { lastError: { ...this.lastError } } : {}),
      ...(this.lastSyncMs !== undefined ? { lastSyncMs: this.lastSyncMs } : {}),
    };
  }

  private async run(): Promise<void> {
    // A 410 came on the last round too, with no event since: relist after a backoff, not at once.
    let goneAgain = false;
    while (!this.stopped) {
      let events = 0;
      let failure: KubeApiError | undefined;
      let gone = false;
      try {
        if (this.rv === undefined) await this.relist();
        if (this.stopped) break;
        gone = (await this.watchOnce((n) => { events = n; })) === 'gone';
      } catch (e) {
        if (this.stopped) break;
        failure = toKubeError(e);
        gone = failure.code === KUBE_API_CODES.gone;
      }
      if (events > 0) {
        this.backoff.reset();
        goneAgain = false;
      }
      let delayMs = 0;
      if (gone) {
        delayMs = goneAgain ? this.backoff.next() : 0;
        goneAgain = true;
        this.warn({ code: KUBE_API_CODES.gone, resourceVersion: this.rv, retryInMs: delayMs }, 'resourceVersion too old (410 Gone): relisting');
        this.rv = undefined;
      } else if (failure) {
        delayMs = this.backoff.next();
        this.lastError = { code: failure.code, message: failure.message, atMs: this.opts.clock.now() };
        this.warn({ code: failure.code, err: failure.message, retryInMs: delayMs }, 'watch failed; retrying');
      } else if (events === 0) {
        // Ended cleanly without a single event (not even a bookmark): do not spin on a server that does that.
        delayMs = this.backoff.next();
      }
      if (delayMs > 0 && !this.stopped) await this.sleep(delayMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = this.opts.clock.setTimeout(resolve, ms);
    }).finally(() => {
      this.wake = undefined;
      this.timer = undefined;
    });
  }

  private action(verb: string): ApiAction {
    const r = this.opts.resource;
    return { verb, resource: r.plural, group: r.group, scope: r.namespace ? `in namespace ${r.namespace}` : 'at the cluster scope' };
  }

  /** Lists every page, then swaps the cache and reports the difference. */
  private async relist(): Promise<void> {
    const next = new Map<string, T>();
    const pageSize = this.opts.pageSize ?? LIST_PAGE_SIZE;
    let token: string | undefined;
    let listRv: string | undefined;
    do {
      const res = await this.opts.client.call('GET', listPath(this.opts.resource, pageSize, token));
      if (this.stopped) return;
      if (res.status !== 200) throw apiError(this.action('list'), res.status, res.body);
      const page = res.body as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } } | undefined;
      if (!page || !Array.isArray(page.items) || typeof page.metadata?.resourceVersion !== 'string') {
        throw new KubeApiError(KUBE_API_CODES.malformed, `list ${this.scope}: the answer is not a list with items and metadata.resourceVersion`);
      }
      listRv ??= page.metadata.resourceVersion;
      for (const item of page.items as unknown[]) {
        const problem = objectProblem(item);
        if (problem) {
          this.malformed(`a list item: ${problem}`);
          continue;
        }
        const obj = item as WatchedObject;
        const key = objectKey(obj.metadata);
        const projected = this.project(obj, key);
        // A projection that failed keeps what was known, as a skipped watch event would.
        const value = projected.ok ? projected.value : this.cache.get(key);
        if (value !== undefined) next.set(key, value);
      }
      token = typeof page.metadata.continue === 'string' && page.metadata.continue !== '' ? page.metadata.continue : undefined;
    } while (token !== undefined);
    const changes = this.store.replace(next);
    this.rv = listRv;
    this.lists++;
    this.lastSyncMs = this.opts.clock.now();
    for (const c of changes) this.emit(c);
    const report: SyncReport = {
      relist: this.lists - 1,
      objects: this.cache.size,
      added: changes.filter((c) => c.type === 'added').length,
      updated: changes.filter((c) => c.type === 'updated').length,
      removed: changes.flatMap((c) => (c.type === 'deleted' ? [c.key] : [])),
    };
    this.log.debug({ ...report, removed: report.removed.length, resourceVersion: listRv }, 'listed');
    this.call(() => this.opts.handlers.synced?.(report));
    if (!this.isSynced) {
      this.isSynced = true;
      this.markSynced();
    }
  }

  /** One watch from this.rv until it ends: 'gone' on an ERROR 410 event, 'closed' otherwise; throws on failures. */
  private async watchOnce(onEvents: (n: number) => void): Promise<'gone' | 'closed'> {
    const timeoutS = WATCH_TIMEOUT_MIN_S + Math.floor(this.random() * WATCH_TIMEOUT_MIN_S);
    const controller = new AbortController();
    this.controller = controller;
    let deadlinePassed = false;
    const deadline = this.opts.clock.setTimeout(() => {
      deadlinePassed = true;
      controller.abort();
    }, timeoutS * 1000 + WATCH_DEADLINE_GRACE_MS);
    this.watches++;
    let events = 0;
    try {
      const res = await this.opts.client.stream(watchPath(this.opts.resource, this.rv!, timeoutS), controller.signal);
      if (res.statusCode !== 200) throw apiError(this.action('watch'), res.statusCode ?? 0, await readStatusBody(res));
      this.watching = true;
      const splitter = new LineSplitter();
      try {
        for await (const chunk of res) {
          for (const line of splitter.push(chunk as Buffer)) {
            if (typeof line !== 'string') {
              this.malformed(`an event line longer than ${MAX_EVENT_LINE_BYTES} bytes`);
              continue;
            }
            const ev = decodeWatchLine(line);
            if ('malformed' in ev) {
              this.malformed(`an event line: ${ev.malformed}`);
              continue;
            }
            if (ev.type === 'ERROR') {
              if (ev.code === 410) return 'gone';
              throw apiError(this.action('watch'), ev.code, ev);
            }
            onEvents(++events);
            this.apply(ev);
          }
        }
      } catch (e) {
        if (deadlinePassed || this.stopped || e instanceof KubeApiError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        throw new KubeApiError(KUBE_API_CODES.unreachable, `watch ${this.scope}: connection lost after ${events} events (${code ?? (e as Error).message})`, { cause: e });
      }
      return 'closed';
    } catch (e) {
      // Our own deadline: the server should have ended the watch by now; resume as after a clean end.
      if (deadlinePassed && !this.stopped) return 'closed';
      throw e;
    } finally {
      this.watching = false;
      deadline.cancel();
      controller.abort();
      if (this.controller === controller) this.controller = undefined;
    }
  }

  private apply(ev: Exclude<WatchEvent, { type: 'ERROR' }>): void {
    if (ev.type === 'BOOKMARK') {
      this.rv = ev.resourceVersion;
      return;
    }
    const key = objectKey(ev.object.metadata);
    let change: CacheChange<T> | undefined;
    if (ev.type === 'DELETED') change = this.store.set(key, undefined);
    else {
      const projected = this.project(ev.object, key);
      if (projected.ok) change = this.store.set(key, projected.value);
    }
    this.rv = ev.resourceVersion;
    if (change) this.emit(change);
  }

  private project(obj: WatchedObject, key: string): { ok: true; value: T | undefined } | { ok: false } {
    try {
      return { ok: true, value: this.opts.project(obj) };
    } catch (e) {
      this.malformed(`object ${key}: ${(e as Error).message ?? String(e)}`);
      return { ok: false };
    }
  }

  private emit(c: CacheChange<T>): void {
    const h = this.opts.handlers;
    if (c.type === 'added') this.call(() => h.added?.(c.key, c.value));
    else if (c.type === 'updated') this.call(() => h.updated?.(c.key, c.value, c.old));
    else this.call(() => h.deleted?.(c.key, c.old));
  }

  /** Runs a consumer's handler; a throw is the consumer's bug, logged, and the informer goes on. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.warn({ code: 'internal', err: (e as Error).message ?? String(e) }, 'BUG: a watch handler threw');
    }
  }

  private malformed(what: string): void {
    this.malformedSkipped++;
    const message = `watch ${this.scope}: skipped ${what}`;
    this.lastError = { code: KUBE_API_CODES.malformed, message, atMs: this.opts.clock.now() };
    this.warn({ code: KUBE_API_CODES.malformed, err: message }, 'skipped a malformed event or object');
  }

  private warn(fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.throttle.admit();
    if (suppressed === undefined) return;
    this.log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, msg);
  }
}

/** Any failure as a KubeApiError with a stable code (transport failures are `kube_unreachable`). */
function toKubeError(e: unknown): KubeApiError {
  if (e instanceof KubeApiError) return e;
  if (e instanceof KubeUnreachableError) return new KubeApiError(KUBE_API_CODES.unreachable, e.message, { cause: e });
  return new KubeApiError(e instanceof ZtmeshError ? e.code : KUBE_API_CODES.unreachable, (e as Error).message ?? String(e), { cause: e });
}

/** Reads a refusal's body, bounded, as JSON (a Status object) or undefined. */
async function readStatusBody(res: AsyncIterable<unknown> & { destroy(): void }): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= MAX_STATUS_BODY_BYTES) break;
  }
  res.destroy();
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
