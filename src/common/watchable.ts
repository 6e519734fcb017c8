// A value that changes over time; subscribers get the current value at once, then every change.
// This is how credentials, bundles and identity state flow to the data path and admin.

export type Listener<T> = (value: T) => void;

/** Holds one reference; set() swaps it and notifies. A late subscriber is called immediately. */
export class Watchable<T> {
  private readonly listeners = new Set<Listener<T>>();
  constructor(private value: T) {}

  get(): T {
    return this.value;
  }

  set(value: T): void {
    this.value = value;
    for (const l of [...this.listeners]) l(value);
  }

  /** Calls `listener` now with the current value and on every change; returns an unsubscribe function. */
  subscribe(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    listener(this.value);
    return () => void this.listeners.delete(listener);
  }
}
