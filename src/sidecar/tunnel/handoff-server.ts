// The inbound's side of handoffs (handoff.ts): a key per tunnel connection, named in the 200 of each stream it
// forwards; and the join of an authenticated handoff connection to one of those streams, whose splice (pipe.ts) then
// carries the app connection on it.
// Invariants: a stream is joined only by a connection of the same peer SPIFFE ID as its tunnel connection that names
// that connection's key (128 random bits, sent only inside it), only while it is open both ways and spliced, and at
// most once; a join request is read within the handshake timeout, and anything else gets the refusal byte and a
// close; every join is counted once.
import { randomBytes } from 'node:crypto';
import type http2 from 'node:http2';
import type { Clock } from '../../common/clock.js';
import type { ConnectionReporter, DataPathMetrics } from '../datapath-metrics.js';
import { closeLeg, resetLeg, withSharedReads, type SocketLeg, type SpliceHandle } from '../pipe.js';
import { REASONS } from '../reasons.js';
import { decodeJoin, HANDOFF_KEY_BYTES, JOIN_ACCEPTED, JOIN_BYTES, JOIN_REFUSED } from './handoff.js';

/** The inbound does not know why the outbound asked: its handoffs are counted with this reason. */
const INBOUND_REASON = 'join';

interface Registered {
  peerId: string;
  streams: Map<number, { stream: http2.ServerHttp2Stream; splice: SpliceHandle }>;
}

/** One tunnel connection's part: its key for the 200s, and where its spliced streams are registered. */
export interface HandoffConnection {
  /** The key, as the handoff header carries it (hex). */
  readonly key: string;
  /** A forwarded stream is spliced: a handoff may join it until it closes. */
  spliced(stream: http2.ServerHttp2Stream, splice: SpliceHandle): void;
  /** The tunnel connection closed. */
  forget(): void;
}

export interface HandoffServerDeps {
  clock: Clock;
  reporter: ConnectionReporter;
  metrics: DataPathMetrics;
  /** The data path's shared read buffer: the joined connection reads into it, as every socket leg does. */
  readBuffer?: Uint8Array;
}

/** One inbound listener's handoff keys and the streams they name. */
export class HandoffServer {
  private readonly byKey = new Map<string, Registered>();

  constructor(private readonly deps: HandoffServerDeps) {}

  /** Registers a tunnel connection of `peerId`. */
  connection(peerId: string): HandoffConnection {
    const key = randomBytes(HANDOFF_KEY_BYTES).toString('hex');
    const entry: Registered = { peerId, streams: new Map() };
    this.byKey.set(key, entry);
    return {
      key,
      spliced: (stream, splice) => {
        if (stream.id === undefined || stream.closed) return;
        const id = stream.id;
        entry.streams.set(id, { stream, splice });
        stream.once('close', () => entry.streams.delete(id));
      },
      forget: () => void this.byKey.delete(key),
    };
  }

  /**
   * An authenticated, authorized connection that chose the handoff ALPN: reads its join request within `timeoutMs`,
   * then answers and, on yes, gives it the stream's place in its splice.
   */
  join(leg: SocketLeg, who: { peer: string; peerId: string }, timeoutMs: number): void {
    const s = leg.stream;
    const { metrics, reporter } = this.deps;
    const refuse = (detail: string, hostile: boolean) => {
      metrics.tunnelHandoffs.inc({ direction: 'inbound', reason: INBOUND_REASON, result: 'refused' });
      // A request no sidecar sends is a refused connection like any other (a line naming the peer, the counters).
      if (hostile) reporter.refused(who.peer, REASONS.handoffRefused, { peerId: who.peerId, detail });
      else reporter.log.debug({ peer: who.peer, peerId: who.peerId, detail }, 'handoff refused: its stream is gone or ending');
      if (s.destroyed) return;
      s.end(Buffer.from([JOIN_REFUSED]));
      closeLeg(leg);
    };
    let done = false;
    const finish = () => {
      done = true;
      timer.cancel();
      s.removeListener('readable', onReadable);
      s.removeListener('end', onGone);
    };
    const onGone = () => {
      if (done) return;
      finish();
      refuse('the connection ended before its join request', false);
    };
    const timer = this.deps.clock.setTimeout(() => {
      if (done) return;
      finish();
      metrics.tunnelHandoffs.inc({ direction: 'inbound', reason: INBOUND_REASON, result: 'failed' });
      resetLeg(leg);
    }, timeoutMs);
    const onReadable = () => {
      if (done) return;
      const request = s.read(JOIN_BYTES) as Buffer | null;
      if (!request) return;
      finish();
      this.answer(leg, who, request, refuse);
    };
    s.on('readable', onReadable);
    s.once('end', onGone);
    onReadable();
  }

  private answer(leg: SocketLeg, who: { peer: string; peerId: string }, request: Buffer, refuse: (detail: string, hostile: boolean) => void): void {
    const join = decodeJoin(request);
    if (!join.ok) return refuse(join.detail, true);
    const entry = this.byKey.get(join.key);
    if (!entry) return refuse('no tunnel connection has this key (closed since)', false);
    // The key proves the tunnel connection; the identity must be the one that connection authenticated.
    if (entry.peerId !== who.peerId) return refuse(`the tunnel connection belongs to ${entry.peerId}`, true);
    const target = entry.streams.get(join.streamId);
    const stream = target?.stream;
    if (!target || !stream || stream.closed || stream.destroyed || stream.readableEnded || stream.writableEnded) {
      return refuse(`stream ${join.streamId} is not open both ways`, false);
    }
    entry.streams.delete(join.streamId);
    // The yes goes out first: the app's bytes follow it on this connection from the handoff on.
    leg.stream.write(Buffer.from([JOIN_ACCEPTED]));
    if (!target.splice.handoff({ stream, tcp: null }, withSharedReads(leg, this.deps.readBuffer))) {
      this.deps.metrics.tunnelHandoffs.inc({ direction: 'inbound', reason: INBOUND_REASON, result: 'failed' });
      resetLeg(leg);
      return;
    }
    this.deps.metrics.tunnelHandoffs.inc({ direction: 'inbound', reason: INBOUND_REASON, result: 'moved' });
    this.deps.reporter.log.debug({ peer: who.peer, peerId: who.peerId, stream: join.streamId }, 'tunnel stream moved to a connection of its own');
  }
}
