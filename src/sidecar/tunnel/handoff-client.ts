// The outbound's side of handoffs (handoff.ts): watches the tunnel streams it opened, and gives one whose traffic says
// it pays for multiplexing without gaining from it an mTLS connection of its own, through its splice (pipe.ts).
// Invariants: one timer for every watched stream, running only while some are watched; a stream is moved at most
// once, and only to a connection that verified the same upstream identity and whose inbound answered yes; until that
// answer the stream goes on untouched, and any failure leaves it on the tunnel; each attempt is counted once.
import type { Clock } from '../../common/clock.js';
import { TickingSet } from '../../common/ticking-set.js';
import type { Logger } from '../../common/logger.js';
import type { DataPathMetrics } from '../datapath-metrics.js';
import type { DialedSocket, UpstreamTarget } from '../outbound/transport.js';
import { resetLeg, withSharedReads, type SocketLeg } from '../pipe.js';
import { encodeJoin, handoffReason, HANDOFF_ALPN, JOIN_ACCEPTED, type HandoffPolicy, type HandoffReason } from './handoff.js';

/** A tunnel stream the outbound spliced, as the handoff client watches it. */
export interface HandoffCandidate {
  target: UpstreamTarget;
  /** For log lines: the upstream as host:port. */
  upstream: string;
  /** Its tunnel connection's handoff key (from the inbound's 200) and its stream id there. */
  key: Buffer;
  streamId: number;
  /** Streams open on its tunnel connection, itself included. */
  connectionStreams(): number;
  /** Bytes both ways so far. */
  bytes(): number;
  /** How long the dial and the inbound's answer may take. */
  timeoutMs: number;
  /** Gives the stream's place to `next` (SpliceHandle.handoff); false when the splice no longer can. */
  handoff(next: SocketLeg): boolean;
  /** Told once the stream moved (the pool counts it for /status). */
  moved(): void;
}

export interface HandoffClientDeps {
  /** Raw mTLS with the same checks as every outbound connection (outbound/upstream-dialer.ts). */
  dial(target: UpstreamTarget, timeoutMs: number, signal: AbortSignal | undefined, alpn: string[]): Promise<DialedSocket>;
  clock: Clock;
  policy: HandoffPolicy;
  metrics: DataPathMetrics;
  log: Logger;
  /** The data path's shared read buffer: the new connection reads into it, as every socket leg does. */
  readBuffer?: Uint8Array;
}

interface Watched {
  candidate: HandoffCandidate;
  lastBytes: number;
  lastMs: number;
}

/** One per data path: the outbound's tunnel streams and their handoffs. */
export class HandoffClient {
  private readonly watched: TickingSet<Watched>;
  private closed = false;

  constructor(private readonly deps: HandoffClientDeps) {
    this.watched = new TickingSet(deps.clock, deps.policy.checkIntervalMs, (live) => this.tick(live));
  }

  /** Streams watched now. */
  get size(): number {
    return this.watched.size;
  }

  /** Watches one stream until the returned function is called (its splice ended) or it is moved. */
  watch(candidate: HandoffCandidate): () => void {
    return this.watched.add({ candidate, lastBytes: candidate.bytes(), lastMs: this.deps.clock.now() });
  }

  close(): void {
    this.closed = true;
    this.watched.close();
  }

  private tick(live: Set<Watched>): void {
    const now = this.deps.clock.now();
    for (const w of live) {
      // A stream is judged over one whole interval at least: a short connection is never moved for its first bytes.
      if (now - w.lastMs < this.deps.policy.checkIntervalMs) continue;
      const bytes = w.candidate.bytes();
      const reason = handoffReason({ bytes: bytes - w.lastBytes, intervalMs: now - w.lastMs, connectionStreams: w.candidate.connectionStreams() }, this.deps.policy);
      w.lastBytes = bytes;
      w.lastMs = now;
      if (!reason) continue;
      live.delete(w);
      void this.move(w.candidate, reason);
    }
  }

  /** Dials, asks the inbound for the stream, and hands the stream's place over once it says yes. */
  private async move(c: HandoffCandidate, reason: HandoffReason): Promise<void> {
    const { metrics, log } = this.deps;
    const count = (result: 'moved' | 'refused' | 'failed') => metrics.tunnelHandoffs.inc({ direction: 'outbound', reason, result });
    let dialed: DialedSocket;
    try {
      dialed = await this.deps.dial(c.target, c.timeoutMs, undefined, [HANDOFF_ALPN]);
    } catch (err) {
      count('failed');
      log.debug({ upstream: c.upstream, reason, err: (err as Error).message }, 'tunnel stream stays: no connection for its handoff');
      return;
    }
    const leg = dialed.leg;
    leg.stream.on('error', () => {}); // until the splice takes it over, or it is closed here
    if (this.closed) return resetLeg(leg); // the data path closed meanwhile
    if (dialed.alpnProtocol !== HANDOFF_ALPN) {
      count('failed');
      resetLeg(leg);
      return;
    }
    leg.stream.write(encodeJoin(c.key, c.streamId));
    const answer = await firstByte(leg, this.deps.clock, c.timeoutMs);
    if (this.closed) return resetLeg(leg);
    if (answer !== JOIN_ACCEPTED) {
      count(answer === undefined ? 'failed' : 'refused');
      log.debug({ upstream: c.upstream, reason, answer }, 'tunnel stream stays: its inbound took no handoff');
      resetLeg(leg);
      return;
    }
    if (!c.handoff(withSharedReads(leg, this.deps.readBuffer))) {
      count('failed');
      resetLeg(leg);
      return;
    }
    count('moved');
    c.moved();
    log.debug({ upstream: c.upstream, peerId: dialed.peerId, reason, resumed: dialed.resumed }, 'tunnel stream moved to a connection of its own');
  }
}

/** The first byte the inbound sends on a handoff connection; undefined if it closes, fails or says nothing in time. */
function firstByte(leg: SocketLeg, clock: Clock, timeoutMs: number): Promise<number | undefined> {
  const s = leg.stream;
  return new Promise((resolve) => {
    const done = (v: number | undefined) => {
      timer.cancel();
      s.removeListener('readable', onReadable);
      s.removeListener('end', onGone);
      s.removeListener('close', onGone);
      resolve(v);
    };
    const onReadable = () => {
      const b = s.read(1) as Buffer | null;
      if (b) done(b[0]);
    };
    const onGone = () => done(undefined);
    const timer = clock.setTimeout(onGone, timeoutMs);
    s.on('readable', onReadable);
    s.once('end', onGone);
    s.once('close', onGone);
  });
}
