// The informer's cache: object key → the consumer's projection of the object, never the object itself, so 10,000
// pods cost what their projections cost. Each write says what changed, so handlers hear only real changes.
//
// Invariants: a key is present iff its last known object projected to a value (undefined means "not of interest" and
// is stored as absent); `replace` builds the new map completely before it swaps one reference, and reports every key
// it added, changed or removed, removed ones included (objects deleted while the watch was down).
import { isDeepStrictEqual } from 'node:util';

/** One change to the cache, as handlers receive it. */
export type CacheChange<T> =
  | { type: 'added'; key: string; value: T }
  | { type: 'updated'; key: string; value: T; old: T }
  | { type: 'deleted'; key: string; old: T };

/** What consumers may read of the cache. `entries()` is live: do not hold it across events. */
export type CacheView<T> = Pick<ProjectedCache<T>, 'get' | 'size' | 'entries'>;

/** A map of projections that reports its changes. */
export class ProjectedCache<T> {
  private map = new Map<string, T>();

  /** `equals` decides whether a new projection is a change; by default deep equality (projections are small). */
  constructor(private readonly equals: (a: T, b: T) => boolean = isDeepStrictEqual) {}

  get(key: string): T | undefined {
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, T]> {
    return this.map.entries();
  }

  /** Stores the projection of `key` (undefined: removes it); returns the change, or undefined if nothing changed. */
  set(key: string, value: T | undefined): CacheChange<T> | undefined {
    const old = this.map.get(key);
    const had = this.map.has(key);
    if (value === undefined) {
      if (!had) return undefined;
      this.map.delete(key);
      return { type: 'deleted', key, old: old as T };
    }
    this.map.set(key, value);
    if (!had) return { type: 'added', key, value };
    return this.equals(old as T, value) ? undefined : { type: 'updated', key, value, old: old as T };
  }

  /** Swaps in `next` (a complete relist) and returns what differs: removals first, then additions and updates. */
  replace(next: Map<string, T>): CacheChange<T>[] {
    const changes: CacheChange<T>[] = [];
    for (const [key, old] of this.map) if (!next.has(key)) changes.push({ type: 'deleted', key, old });
    for (const [key, value] of next) {
      if (!this.map.has(key)) changes.push({ type: 'added', key, value });
      else {
        const old = this.map.get(key) as T;
        if (!this.equals(old, value)) changes.push({ type: 'updated', key, value, old });
      }
    }
    this.map = next;
    return changes;
  }
}
