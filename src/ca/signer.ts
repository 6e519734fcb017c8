// The signer: runs the signing policy either on the main thread or in a pool of worker threads.
// The pool spreads CSR verification and signing over every core; it falls back to in-process signing
// when the compiled worker file is absent (e.g. under vitest, which runs the .ts sources).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PkiError, PolicyError, ZtmeshError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { IssuerMaterial } from '../pki/certificate.js';
import { signCsr, type SignJob, type SignResult } from './signing-policy.js';

/** Turns a CSR into a signed leaf for an already attested identity. */
export interface Signer {
  sign(job: SignJob): Promise<SignResult>;
  /** "inline" or "workers:N", for the startup log. */
  readonly mode: string;
  close(): Promise<void>;
}

/** Signs on the calling thread. */
export class InlineSigner implements Signer {
  readonly mode = 'inline';
  constructor(private readonly issuer: IssuerMaterial) {}
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

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: SignResult) => void; reject: (e: Error) => void }>;
  queue: WorkerRequest[];
  scheduled: boolean;
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

/** A fixed pool of signing workers. Jobs queued in one event-loop turn travel to a worker as one message. */
export class SignerPool implements Signer {
  readonly mode: string;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private next = 0;
  private closing = false;

  constructor(file: string, size: number, private readonly data: WorkerData, private readonly log: Logger) {
    this.mode = `workers:${size}`;
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(file));
  }

  private spawn(file: string): Slot {
    const slot: Slot = { worker: new Worker(file, { workerData: this.data }), pending: new Map(), queue: [], scheduled: false };
    slot.worker.on('message', (replies: WorkerReply[]) => {
      for (const r of replies) {
        const p = slot.pending.get(r.id);
        if (!p) continue;
        slot.pending.delete(r.id);
        if (r.error) p.reject(rebuildError(r.error));
        else p.resolve({ ...r.result, der: Buffer.from(r.result.der) });
      }
    });
    const fail = (why: string) => {
      for (const p of slot.pending.values()) p.reject(new ZtmeshError('signer_failed', `signing worker ${why}`));
      slot.pending.clear();
      if (this.closing) return;
      this.log.error({ why }, 'signing worker stopped; starting a new one');
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn(file);
    };
    slot.worker.on('error', (e) => fail(`failed: ${e.message}`));
    slot.worker.on('exit', (code) => { if (!this.closing) fail(`exited with code ${code}`); });
    return slot;
  }

  sign(job: SignJob): Promise<SignResult> {
    // Least-loaded slot, ties broken round-robin.
    let slot = this.slots[this.next++ % this.slots.length]!;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.queue.push({ id, job });
      if (!slot.scheduled) {
        slot.scheduled = true;
        setImmediate(() => {
          slot.scheduled = false;
          const batch = slot.queue.splice(0);
          slot.worker.postMessage(batch);
        });
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** Makes a pool of `workers` threads when the compiled worker exists and workers > 0, else an inline signer. */
export function createSigner(opts: { workers: number; issuer: IssuerMaterial; keyPem: string; caCertDer: Buffer; log: Logger }): Signer {
  const file = workerFile();
  if (opts.workers > 0 && file) {
    return new SignerPool(file, opts.workers, { keyPem: opts.keyPem, caCertDer: new Uint8Array(opts.caCertDer) }, opts.log);
  }
  return new InlineSigner(opts.issuer);
}
