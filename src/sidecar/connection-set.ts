// The open connections of the data path, and of each listener within it: counted, awaited while draining and
// reset at the end, in one place. A listener's set is a child of the data path's, so each socket is tracked once.
import type net from 'node:net';
import { plainLeg, resetLeg } from './pipe.js';

/** A set of open sockets; a socket leaves it when it closes. */
export class ConnectionSet {
  private readonly live = new Set<net.Socket>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly parent?: ConnectionSet) {}

  /** A set whose sockets count in this one too (one per listener, inside the data path's). */
  child(): ConnectionSet {
    return new ConnectionSet(this);
  }

  get size(): number {
    return this.live.size;
  }

  /** Tracks `socket` here and in every enclosing set until it closes. */
  track(socket: net.Socket): void {
    for (let s: ConnectionSet | undefined = this; s; s = s.parent) s.live.add(socket);
    socket.once('close', () => {
      for (let s: ConnectionSet | undefined = this; s; s = s.parent) s.forget(socket);
    });
  }

  /** The sockets open now (a copy). */
  sockets(): net.Socket[] {
    return [...this.live];
  }

  /** Resolves once no socket of this set is open. */
  whenIdle(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resets every open socket of this set (the end of a drain, or a close). */
  destroyAll(): void {
    for (const s of [...this.live]) resetLeg(plainLeg(s));
  }

  private forget(socket: net.Socket): void {
    if (!this.live.delete(socket) || this.live.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
