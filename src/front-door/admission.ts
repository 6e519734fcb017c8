// Which connections a front door holds, by state and source address, and the decision for a newcomer: bounds on
// unfinished handshakes (per source and in total) and, where the listener serves what it accepts, on connections.
// Pure bookkeeping over opaque handles: the front door (front-door.ts) does the socket I/O.

/** The bounds of one front door. */
export interface AdmissionLimits {
  /** Unfinished handshakes held at once; at the bound the oldest gives way to the newcomer. */
  maxPending: number;
  /** Unfinished handshakes from one source address; at the bound that source's oldest gives way. */
  maxPendingPerSource: number;
  /**
   * Connections held at once, established ones included, in total and per source address (the CA, which serves the
   * connections it accepts). At the total an unfinished handshake gives way to the newcomer, and only when every held
   * connection is established is the newcomer refused; a source at its own bound is refused at once. Unset: only
   * handshakes are held (the sidecar, whose listeners bound their connections with maxConnections).
   */
  connections?: { max: number; maxPerSource: number };
}

/** Which bound made room: the newcomer's source address, or the listener as a whole. */
export type Bound = 'source' | 'listener';

/** An unfinished handshake cut to make room for a newcomer. */
export interface Cut<T> {
  key: T;
  bound: Bound;
  limit: number;
}

/** Why a newcomer was not admitted (a code of reasons.ts). */
export type AdmissionRefusal = 'connection_limit' | 'source_connection_limit';

/** The decision for a newcomer: admitted (perhaps after cutting an unfinished handshake), or refused. */
export type Admission<T> = { ok: true; cut?: Cut<T> } | { ok: false; reason: AdmissionRefusal };

/**
 * Normalises a peer address into the key the per-source bounds count: IPv4-mapped IPv6 becomes plain IPv4,
 * so a dual-stack listener counts one client once.
 */
export function sourceKey(remoteAddress: string): string {
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress.toLowerCase();
}

/** What one source address holds: connections of every state, and its unfinished handshakes in arrival order. */
interface Source<T> {
  key: string;
  held: number;
  pending: Set<T>;
}

/**
 * The connections of one front door from admission to close. Invariants: a newcomer is always admitted unless a
 * connection bound refuses it; at a full bound the oldest unfinished handshake gives way: the oldest that has sent
 * nothing, else the one whose handshake started first (of the newcomer's source at that source's bound, else of the
 * listener). A real handshake takes milliseconds, so what is cut is what stalled, and a flood of silent sockets
 * cannot outlast a client in the middle of its handshake. An established connection is never cut.
 */
export class AdmissionTable<T> {
  /** Admitted, not a byte received yet; insertion-ordered, so the first entry is the oldest. */
  private readonly silent = new Map<T, Source<T>>();
  /** Sent its first bytes, handshake not finished; ordered by when the bytes came. */
  private readonly speaking = new Map<T, Source<T>>();
  /** Past its handshake; kept only when the limits bound connections. */
  private readonly established = new Map<T, Source<T>>();
  private readonly sources = new Map<string, Source<T>>();

  constructor(readonly limits: AdmissionLimits) {}

  /** Decides on a newcomer from `source` and, when admitted, records it as silent. */
  admit(key: T, source: string): Admission<T> {
    const { maxPending, maxPendingPerSource, connections } = this.limits;
    const mine = this.sources.get(source);
    if (connections && mine && mine.held >= connections.maxPerSource) return { ok: false, reason: 'source_connection_limit' };
    let cut: Cut<T> | undefined;
    if (mine && mine.pending.size >= maxPendingPerSource) {
      cut = { key: this.oldestOf(mine), bound: 'source', limit: maxPendingPerSource };
    } else if (this.pendingCount >= maxPending || (connections && this.size >= connections.max)) {
      const oldest = this.silent.size > 0 ? this.silent.keys().next() : this.speaking.keys().next();
      if (oldest.done) return { ok: false, reason: 'connection_limit' };
      cut = { key: oldest.value, bound: 'listener', limit: this.pendingCount >= maxPending ? maxPending : connections!.max };
    }
    if (cut) this.remove(cut.key);
    let src = this.sources.get(source);
    if (!src) {
      src = { key: source, held: 0, pending: new Set() };
      this.sources.set(source, src);
    }
    src.held++;
    src.pending.add(key);
    this.silent.set(key, src);
    return cut ? { ok: true, cut } : { ok: true };
  }

  /** Marks a connection as having sent its first bytes: cut only after every silent one. */
  spoke(key: T): void {
    const src = this.silent.get(key);
    if (!src) return;
    this.silent.delete(key);
    this.speaking.set(key, src);
  }

  /** Marks a connection as past its handshake: never cut; still counted while the limits bound connections. */
  establish(key: T): void {
    const src = this.silent.get(key) ?? this.speaking.get(key);
    if (!src) return;
    this.silent.delete(key);
    this.speaking.delete(key);
    src.pending.delete(key);
    if (this.limits.connections) this.established.set(key, src);
    else this.release(src);
  }

  /** True while the connection is held and has not finished its handshake. */
  isPending(key: T): boolean {
    return this.silent.has(key) || this.speaking.has(key);
  }

  /** The unfinished handshakes, silent ones first. */
  *pending(): IterableIterator<T> {
    yield* this.silent.keys();
    yield* this.speaking.keys();
  }

  /** Forgets a connection (closed, refused or cut); idempotent. */
  remove(key: T): void {
    const src = this.silent.get(key) ?? this.speaking.get(key) ?? this.established.get(key);
    if (!src) return;
    this.silent.delete(key);
    this.speaking.delete(key);
    this.established.delete(key);
    src.pending.delete(key);
    this.release(src);
  }

  get pendingCount(): number {
    return this.silent.size + this.speaking.size;
  }

  get size(): number {
    return this.pendingCount + this.established.size;
  }

  /** `handshaking` counts the silent ones too. */
  counts(): { handshaking: number; established: number; sources: number } {
    return { handshaking: this.pendingCount, established: this.established.size, sources: this.sources.size };
  }

  /** A source's oldest silent handshake, else its oldest. */
  private oldestOf(src: Source<T>): T {
    for (const k of src.pending) if (this.silent.has(k)) return k;
    return src.pending.values().next().value!;
  }

  private release(src: Source<T>): void {
    if (--src.held <= 0) this.sources.delete(src.key);
  }
}
