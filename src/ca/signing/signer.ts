// The signer: runs the signing policy either on the main thread or in a pool of worker threads.
// The pool spreads CSR verification and signing over every core; it falls back to in-process signing
// when the compiled worker file is absent (e.g. under vitest, which runs the .ts sources).
// A signer is healthy only once a self-test signature passed; failing workers are rebuilt with backoff.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Backoff, type BackoffPolicy } from '../../common/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.js';
import { PkiError, PolicyError, ZtmeshError } from '../../common/errors.js';
import { FailureSummary } from '../../common/failure-summary.js';
import type { Logger } from '../../common/logger.js';
import { Watchable } from '../../common/watchable.js';
import type { IssuerMaterial } from '../../pki/certificate.js';
import { makeSelfTest } from './signer-self-test.js';
import { signCsr, type SignJob, type SignResult } from './signing-policy.js';

/** Whether the signer can sign now (a self-test signature passed), and if not, why. */
export interface SignerHealth {
  ready: boolean;
  detail: string;
}

/** Turns a CSR into a signed leaf for an already attested identity. */
export interface Signer {
  sign(job: SignJob): Promise<SignResult>;
  /** "inline" or "workers:N", for the startup log. */
  readonly mode: string;
  /** Current health; subscribers get it at once and on every change. */
  readonly health: Watchable<SignerHealth>;
  close(): Promise<void>;
}

/** How a signature is checked before the signer counts as healthy. */
export interface SelfTest {
  job(nowMs: number): SignJob;
  check(result: SignResult): void;
}

/** Signs on the calling thread; healthy once its self-test signature passed. */
export class InlineSigner implements Signer {
  readonly mode = 'inline';
  readonly health: Watchable<SignerHealth>;
  constructor(private readonly issuer: IssuerMaterial, selfTest?: SelfTest, clock: Clock = systemClock) {
    let health: SignerHealth = { ready: true, detail: 'signing on the main thread' };
    if (selfTest) {
      try {
        selfTest.check(signCsr(selfTest.job(clock.now()), issuer));
      } catch (e) {
        health = { ready: false, detail: `self-test signature failed: ${(e as Error).message}` };
      }
    }
    this.health = new Watchable(health);
  }
  async sign(job: SignJob): Promise<SignResult> {
    return signCsr(job, this.issuer);
  }
  async close(): Promise<void> {}
}

/** Passed to each worker at start. */
export interface WorkerData {
  /** PKCS#8 PEM; stays in memory, never logged. */
  keyPem: string;
  caCertDer: Uint8Array;
}
export interface WorkerRequest { id: number; job: SignJob }
export type WorkerReply =
  | { id: number; result: SignResult; error?: undefined }
  | { id: number; error: { name: string; code: string; message: string } };

/** Rebuild delays of a failing worker: 100 ms doubling to 10 s, ±20%. */
export const WORKER_BACKOFF: BackoffPolicy = { initialMs: 100, multiplier: 2, maxMs: 10_000, jitter: 0.2 };
/** A worker that ran this long before it failed resets its backoff (a crash now and then is not a crash loop). */
export const WORKER_STABLE_MS = 30_000;
/** How long a call waits for a worker that is still starting (its self-test in flight) before it is refused. */
export const WORKER_START_WAIT_MS = 3_000;
/** At most one log line per this interval while workers keep failing. */
export const WORKER_FAILURE_SUMMARY_MS = 10_000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** True once this worker's self-test signature passed. */
  ready: boolean;
  startedMs: number;
  backoff: Backoff;
  restart: TimerHandle | undefined;
  pending: Map<number, { resolve: (r: SignResult) => void; reject: (e: Error) => void }>;
  queue: WorkerRequest[];
  scheduled: boolean;
}

/** Resolves once `health` is ready, or after `timeoutMs` (the caller then reads `health` again). */
export function waitUntilReady(health: Watchable<SignerHealth>, clock: Clock, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let unsubscribe = () => {};
    const timer = clock.setTimeout(() => { unsubscribe(); resolve(); }, timeoutMs);
    unsubscribe = health.subscribe((h) => {
      if (!h.ready) return;
      timer.cancel();
      queueMicrotask(() => unsubscribe());
      resolve();
    });
  });
}

/** Path of the compiled worker next to this module; undefined when it was not built. */
export function workerFile(): string | undefined {
  const file = fileURLToPath(new URL('./sign-worker.js', import.meta.url));
  return import.meta.url.endsWith('.js') && existsSync(file) ? file : undefined;
}

function rebuildError(e: { name: string; code: string; message: string }): Error {
  if (e.name === 'PkiError') return new PkiError(e.code, e.message);
  if (e.name === 'PolicyError') return new PolicyError(e.code, e.message);
  return new ZtmeshError('signer_failed', `signing worker: ${e.message}`);
}

export interface SignerPoolOptions {
  file: string;
  size: number;
  data: WorkerData;
  log: Logger;
  selfTest?: SelfTest;
  clock?: Clock;
  /** Called once per worker failure (a metric). */
  onWorkerFailure?: () => void;
}

/**
 * A fixed pool of signing workers. Jobs queued in one event-loop turn travel to a worker as one message.
 * A new worker takes jobs only after its self-test signature passed; a failed one is rebuilt with backoff.
 */
export class SignerPool implements Signer {
  readonly mode: string;
  readonly health = new Watchable<SignerHealth>({ ready: false, detail: 'signing workers starting' });
  private readonly slots: Slot[] = [];
  private readonly clock: Clock;
  private readonly failures: FailureSummary;
  private lastFailure = '';
  private nextId = 1;
  private next = 0;
  private closing = false;

  constructor(private readonly opts: SignerPoolOptions) {
    this.mode = `workers:${opts.size}`;
    this.clock = opts.clock ?? systemClock;
    this.failures = new FailureSummary(this.clock, WORKER_FAILURE_SUMMARY_MS, ({ first, count, last }) => {
      if (first) this.opts.log.error({ why: last }, 'signing worker stopped; rebuilding it with backoff');
      else this.opts.log.error({ failures: count, intervalMs: WORKER_FAILURE_SUMMARY_MS, last, ready: this.readyCount() }, `signing workers failed ${count} more time(s); still rebuilding with backoff`);
    });
    for (let i = 0; i < opts.size; i++) {
      const slot: Slot = {
        index: i, worker: undefined, ready: false, startedMs: 0, backoff: new Backoff(WORKER_BACKOFF), restart: undefined,
        pending: new Map(), queue: [], scheduled: false,
      };
      this.slots.push(slot);
      this.start(slot);
    }
  }

  private readyCount(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  private updateHealth(): void {
    const ready = this.readyCount();
    const cur = this.health.get();
    const next: SignerHealth = ready > 0
      ? { ready: true, detail: `${ready} of ${this.slots.length} signing worker(s) passed their self-test` }
      : { ready: false, detail: this.lastFailure ? `no signing worker is running: ${this.lastFailure}` : 'signing workers starting' };
    if (cur.ready !== next.ready) {
      if (next.ready) this.opts.log.info({ workers: ready }, 'signer ready: self-test signature passed');
      else this.opts.log.error({ why: this.lastFailure }, 'signer not ready: no signing worker can sign');
    }
    if (cur.ready !== next.ready || cur.detail !== next.detail) this.health.set(next);
  }

  private start(slot: Slot): void {
    slot.restart = undefined;
    if (this.closing) return;
    let worker: Worker;
    try {
      worker = new Worker(this.opts.file, { workerData: this.opts.data });
    } catch (e) {
      this.fail(slot, undefined, `could not start: ${(e as Error).message}`);
      return;
    }
    slot.worker = worker;
    slot.ready = false;
    slot.startedMs = this.clock.now();
    worker.on('message', (replies: WorkerReply[]) => {
      for (const r of replies) {
        const p = slot.pending.get(r.id);
        if (!p) continue;
        slot.pending.delete(r.id);
        if (r.error) p.reject(rebuildError(r.error));
        else p.resolve({ ...r.result, der: Buffer.from(r.result.der) });
      }
    });
    worker.on('error', (e) => this.fail(slot, worker, `failed: ${e.message}`));
    worker.on('exit', (code) => this.fail(slot, worker, `exited with code ${code}`));
    if (!this.opts.selfTest) {
      slot.ready = true;
      this.updateHealth();
      return;
    }
    const test = this.opts.selfTest;
    this.post(slot, test.job(this.clock.now())).then(
      (result) => {
        test.check(result);
        if (slot.worker !== worker) return;
        slot.ready = true;
        this.updateHealth();
      },
    ).catch((e: Error) => {
      if (slot.worker !== worker) return;
      this.fail(slot, worker, `self-test signature failed: ${e.message}`);
      void worker.terminate();
    });
  }

  /** A worker failed: its jobs fail, the slot stops taking jobs, and it is rebuilt after a backoff delay. */
  private fail(slot: Slot, worker: Worker | undefined, why: string): void {
    if (worker !== undefined && slot.worker !== worker) return; // a late event of a worker already replaced
    slot.worker = undefined;
    slot.ready = false;
    for (const p of slot.pending.values()) p.reject(new ZtmeshError('signer_unavailable', `signing worker ${why}`));
    slot.pending.clear();
    slot.queue = [];
    if (this.closing) return;
    this.lastFailure = why;
    this.opts.onWorkerFailure?.();
    this.failures.record(why);
    if (this.clock.now() - slot.startedMs >= WORKER_STABLE_MS && slot.startedMs > 0) slot.backoff.reset();
    slot.restart = this.clock.setTimeout(() => this.start(slot), slot.backoff.next());
    this.updateHealth();
  }

  private post(slot: Slot, job: SignJob): Promise<SignResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.queue.push({ id, job });
      if (!slot.scheduled) {
        slot.scheduled = true;
        setImmediate(() => {
          slot.scheduled = false;
          const batch = slot.queue.splice(0);
          if (batch.length && slot.worker) slot.worker.postMessage(batch);
        });
      }
    });
  }

  sign(job: SignJob): Promise<SignResult> {
    if (this.slots.some((s) => s.ready)) return this.dispatch(job);
    // A worker still starting (its self-test in flight) is worth a short wait; none at all is a refusal now.
    if (this.closing || !this.slots.some((s) => s.worker)) return Promise.reject(this.unavailable());
    return waitUntilReady(this.health, this.clock, WORKER_START_WAIT_MS).then(() => this.dispatch(job));
  }

  private unavailable(): ZtmeshError {
    return new ZtmeshError('signer_unavailable', `the CA cannot sign right now: ${this.health.get().detail}`);
  }

  /** Least-loaded ready slot, ties broken round-robin. */
  private dispatch(job: SignJob): Promise<SignResult> {
    const ready = this.slots.filter((s) => s.ready);
    if (ready.length === 0) return Promise.reject(this.unavailable());
    let slot = ready[this.next++ % ready.length]!;
    for (const s of ready) if (s.pending.size < slot.pending.size) slot = s;
    return this.post(slot, job);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.failures.stop();
    for (const s of this.slots) s.restart?.cancel();
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }
}

/**
 * Makes a pool of `workers` threads when the compiled worker exists (or `file` is given) and workers > 0, else an
 * inline signer. Either way it must pass a self-test signature before its health turns ready.
 */
export function createSigner(opts: {
  workers: number; issuer: IssuerMaterial; keyPem: string; caCertDer: Buffer; trustDomain: string; log: Logger;
  clock?: Clock; file?: string; onWorkerFailure?: () => void;
}): Signer {
  const file = opts.file ?? workerFile();
  const selfTest = makeSelfTest(opts.trustDomain, opts.caCertDer);
  if (opts.workers > 0 && file) {
    return new SignerPool({
      file, size: opts.workers, data: { keyPem: opts.keyPem, caCertDer: new Uint8Array(opts.caCertDer) }, log: opts.log, selfTest,
      ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.onWorkerFailure ? { onWorkerFailure: opts.onWorkerFailure } : {}),
    });
  }
  return new InlineSigner(opts.issuer, selfTest, opts.clock);
}
