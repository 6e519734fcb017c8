// The contract between the composition root (app.ts) and the data path, explicit and transparent alike:
// what the listeners get, and what a running set of listeners offers back.
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.js';
import type { HeapTrimmer } from '../common/heap-trimmer.js';
import type { Logger } from '../common/logger.js';
import type { Readiness } from '../common/readiness.js';
import type { IdentitySource } from '../identity/credentials.js';
import type { ListenerStatus } from '../admin/status-types.js';
import type { SidecarConfig } from './config-schema.js';

/** Everything the data path gets from the composition root. */
export interface ListenerContext {
  config: SidecarConfig;
  identity: IdentitySource;
  log: Logger;
  registry: Registry;
  clock: Clock;
  readiness: Readiness;
  /** Gives native memory back after handshake floods (inbound.ts); absent in tests that do not measure it. */
  heap?: HeapTrimmer;
}

/** The running data path, as the composition root and admin see it. */
export interface RunningListeners {
  statuses(): ListenerStatus[];
  /** Stops accepting, waits up to timeoutMs for open connections to finish. */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
