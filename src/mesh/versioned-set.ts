// The membership set as the CA holds it: every destination with the version it last changed at, and a change log
// from which the delta between any recent version and the current one is computed. Pure (no I/O, no clock).
// Invariants:
// - The version grows by one with every change; an upsert equal to what is held, or a removal of a key not held,
//   is no change.
// - deltaFrom(v) holds every key changed after v (upserted if present now, removed if not), so applying it to the
//   set as it was at v gives the set as it is now. A base this set cannot answer for (another CA instance, a version
//   from the future, or one older than the last compaction) gets undefined: the caller sends a snapshot.
// - The log never grows past a few times the set's size: past that it is dropped and older bases get snapshots.
import { formatVersion, versionCounter } from './kinds.js';
import { sameDestination, type MeshedDestination } from './destination.js';

/** A delta: what changed since a base version. */
export interface MembershipDelta {
  upsert: MeshedDestination[];
  remove: string[];
}

/** Log records kept before a compaction, at least, and per entry held. */
export const LOG_MIN = 1024;
export const LOG_PER_ENTRY = 4;

/** The CA's versioned membership set. */
export class VersionedSet {
  private n = 0;
  private readonly held = new Map<string, { d: MeshedDestination; at: number }>();
  /** (version, key) of every change since the last compaction, in version order. */
  private log: { at: number; key: string }[] = [];
  /** Deltas are possible only from bases at or after this counter. */
  private compactedAt = 0;
  private memo: { n: number; snapshot?: MeshedDestination[]; deltas: Map<number, MembershipDelta> } = { n: -1, deltas: new Map() };

  /** @param instance random per CA process: versions of another process are never taken as bases. */
  constructor(readonly instance: string) {}

  get version(): string {
    return formatVersion(this.instance, this.n);
  }

  get size(): number {
    return this.held.size;
  }

  get(key: string): MeshedDestination | undefined {
    return this.held.get(key)?.d;
  }

  keys(): IterableIterator<string> {
    return this.held.keys();
  }

  /** Adds or replaces a destination; false when it was held exactly so (no new version). */
  upsert(d: MeshedDestination): boolean {
    const cur = this.held.get(d.key);
    if (cur && sameDestination(cur.d, d)) return false;
    this.record(d.key);
    this.held.set(d.key, { d, at: this.n });
    return true;
  }

  /** Removes a destination; false when it was not held. */
  remove(key: string): boolean {
    if (!this.held.has(key)) return false;
    this.record(key);
    this.held.delete(key);
    return true;
  }

  /**
   * Makes the destinations whose key starts with `prefix` exactly `list` (a source's full state: a relist, the
   * static CIDRs); returns how many changed.
   */
  replacePrefix(prefix: string, list: readonly MeshedDestination[]): number {
    let changed = 0;
    const keep = new Set(list.map((d) => d.key));
    for (const key of [...this.held.keys()]) if (key.startsWith(prefix) && !keep.has(key) && this.remove(key)) changed++;
    for (const d of list) if (this.upsert(d)) changed++;
    return changed;
  }

  /** Everything held now (the same array until the next change). */
  snapshot(): MeshedDestination[] {
    const m = this.memoNow();
    m.snapshot ??= [...this.held.values()].map((h) => h.d);
    return m.snapshot;
  }

  /** What changed since `base`, or undefined when this set cannot say (then send a snapshot). */
  deltaFrom(base: string): MembershipDelta | undefined {
    const b = versionCounter(this.instance, base);
    if (b === undefined || b > this.n || b < this.compactedAt) return undefined;
    const m = this.memoNow();
    let delta = m.deltas.get(b);
    if (!delta) {
      let lo = 0;
      let hi = this.log.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.log[mid]!.at <= b) lo = mid + 1;
        else hi = mid;
      }
      const keys = new Set<string>();
      for (let i = lo; i < this.log.length; i++) keys.add(this.log[i]!.key);
      delta = { upsert: [], remove: [] };
      for (const key of keys) {
        const h = this.held.get(key);
        if (h) delta.upsert.push(h.d);
        else delta.remove.push(key);
      }
      m.deltas.set(b, delta);
    }
    return delta;
  }

  private memoNow() {
    if (this.memo.n !== this.n) this.memo = { n: this.n, deltas: new Map() };
    return this.memo;
  }

  private record(key: string): void {
    this.n++;
    this.log.push({ at: this.n, key });
    if (this.log.length > Math.max(LOG_MIN, LOG_PER_ENTRY * this.held.size)) {
      this.log = [];
      this.compactedAt = this.n;
    }
  }
}
