// Bounds the TLS handshakes one inbound holds unfinished, per listener and per source address. Each costs
// 110–140 KiB of native memory once its first bytes arrive (docs/datapath.md "Memory under floods").

/** Unfinished handshakes one inbound listener holds at most (node's default listen backlog is 511). */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 512;
/** Unfinished handshakes from one source address at most. */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE = 128;

export interface HandshakeLimits {
  maxPending: number;
  maxPendingPerSource: number;
}

/** Which bound made room for a newcomer, and the handshake it cut for that. */
export interface Displaced<T> {
  key: T;
  bound: 'listener' | 'source';
  limit: number;
}

/**
 * The unfinished handshakes of one listener, oldest first. At a full bound the oldest unfinished handshake (of the
 * newcomer's source, else of the listener) gives way: a real handshake takes milliseconds, so what is cut is what
 * stalled, and a flood cannot keep a newcomer out unless it opens a whole bound's worth of connections within that
 * newcomer's handshake. Pure bookkeeping: the caller closes the sockets.
 */
export class PendingHandshakes<T> {
  private readonly all = new Map<T, string>();
  private readonly bySource = new Map<string, Set<T>>();

  constructor(private readonly limits: HandshakeLimits) {}

  get size(): number {
    return this.all.size;
  }

  /** Admits `key` from `source`; returns the handshake cut to make room, if a bound was full. */
  admit(key: T, source: string): Displaced<T> | undefined {
    let displaced: Displaced<T> | undefined;
    const mine = this.bySource.get(source);
    if (mine && mine.size >= this.limits.maxPendingPerSource) {
      displaced = { key: mine.values().next().value!, bound: 'source', limit: this.limits.maxPendingPerSource };
    } else if (this.all.size >= this.limits.maxPending) {
      displaced = { key: this.all.keys().next().value!, bound: 'listener', limit: this.limits.maxPending };
    }
    if (displaced) this.release(displaced.key);
    this.all.set(key, source);
    const set = this.bySource.get(source);
    if (set) set.add(key);
    else this.bySource.set(source, new Set([key]));
    return displaced;
  }

  /** Forgets `key` (its handshake finished, failed or was cut); unknown keys are ignored. */
  release(key: T): void {
    const source = this.all.get(key);
    if (source === undefined) return;
    this.all.delete(key);
    const mine = this.bySource.get(source)!;
    mine.delete(key);
    if (mine.size === 0) this.bySource.delete(source);
  }
}
