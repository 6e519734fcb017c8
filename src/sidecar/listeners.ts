// The data path's entry point, called by the composition root (app.ts).
// Placeholder that starts no listeners; the data-path issue replaces this file.
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.js';
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
}

/** The running data path, as the composition root and admin see it. */
export interface RunningListeners {
  statuses(): ListenerStatus[];
  /** Stops accepting, waits up to timeoutMs for open connections to finish. */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts every configured listener (none yet: placeholder until the data-path issue lands). */
export async function startListeners(_ctx: ListenerContext): Promise<RunningListeners> {
  return {
    statuses: () => [],
    drain: async () => {},
    close: async () => {},
  };
}
