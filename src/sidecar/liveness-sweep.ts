// Notices connections that ended while nobody reads them: libuv stops watching a socket it does not read (a leg paused
// by backpressure), and node's HTTP/2 stops reading a session nghttp2 has ended, so neither hears its peer leave.
// One timer per data path; each tick, one poll(2) over every watched socket (common/socket-poll.ts) and each watch's
// own check. Invariants: a watch reports `gone` or `ended` at most once and is then dropped; `fin` at most once.
import type net from 'node:net';
import type { Clock } from '../common/clock.js';
import { describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { socketFd } from '../common/node-internals.js';
import { loadPeerStates, type PeerState } from '../common/socket-poll.js';
import { TickingSet } from '../common/ticking-set.js';

/** How often the sweep looks (the delay before a departure is noticed). */
export const SWEEP_INTERVAL_MS = 1_000;

/** What a watch learnt: its peer reset (`gone`), shut its side (`fin`, whether or not ours is shut too), or its protocol ended (`ended`). */
export type Departure = 'gone' | 'fin' | 'ended';

export interface Watch {
  /** The TCP socket whose kernel state is read. */
  socket: net.Socket;
  onDeparture(d: Departure): void;
  /** The connection's own protocol still going (an HTTP/2 session nghttp2 has not ended); false reports `ended`. */
  alive?(): boolean;
}

interface Entry extends Watch {
  finSeen: boolean;
}

export interface LivenessSweepOptions {
  clock: Clock;
  log: Logger;
  /** poll(2) over file descriptors; defaults to libc's through koffi, loaded on the first tick. */
  load?: () => (fds: readonly number[]) => PeerState[];
  intervalMs?: number;
}

/** The data path's watch over the connections it does not read. */
export class LivenessSweep {
  private readonly entries: TickingSet<Entry>;
  /** undefined: not loaded yet; null: unavailable here (said once). */
  private peerStates: ((fds: readonly number[]) => PeerState[]) | null | undefined;

  constructor(private readonly opts: LivenessSweepOptions) {
    this.entries = new TickingSet(opts.clock, opts.intervalMs ?? SWEEP_INTERVAL_MS, (live) => this.tick(live));
  }

  /** Connections watched now. */
  get size(): number {
    return this.entries.size;
  }

  /** Watches `w` until the returned function is called (or it reported `gone` or `ended`). */
  watch(w: Watch): () => void {
    return this.entries.add({ ...w, finSeen: false });
  }

  close(): void {
    this.entries.close();
  }

  private tick(live: Set<Entry>): void {
    const entries = [...live];
    const fds = entries.map((e) => {
      try {
        return socketFd(e.socket);
      } catch {
        return -1;
      }
    });
    const states = this.kernel(fds.filter((fd) => fd >= 0));
    let next = 0;
    entries.forEach((e, i) => {
      const state = fds[i]! >= 0 ? states[next++] : undefined;
      if (!live.has(e)) return;
      // A protocol that ended says more than the FIN or RST that usually follows it.
      let d: Departure | undefined = e.alive && !e.alive() ? 'ended' : undefined;
      d ??= state === 'gone' ? 'gone' : state === 'fin' && !e.finSeen ? 'fin' : undefined;
      if (!d) return;
      if (d === 'fin') e.finSeen = true;
      else live.delete(e);
      try {
        e.onDeparture(d);
      } catch (err) {
        // One watch's fault must not stop the sweep for every other connection.
        this.opts.log.error({ err: describe(err).message }, 'BUG: a liveness watch failed');
      }
    });
  }

  private kernel(fds: number[]): PeerState[] {
    if (this.peerStates === undefined) {
      try {
        this.peerStates = (this.opts.load ?? loadPeerStates)();
      } catch (e) {
        this.peerStates = null;
        const { code, message } = describe(e);
        this.opts.log.warn({ code, err: message }, 'a peer that leaves while its connection is paused is noticed only by the idle timeout');
      }
    }
    return this.peerStates ? this.peerStates(fds) : fds.map(() => undefined);
  }
}
