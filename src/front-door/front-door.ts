// The one TLS front door, of the CA's gRPC port and of every sidecar inbound: takes accepted TCP sockets, bounds the
// unfinished handshakes (admission.ts) and their time (a deadline on the injected clock), hands each socket to a
// never-listening tls.Server once its first bytes arrive, names what fails with one vocabulary (reasons.ts), and gives
// each established TLS connection to its owner. A step before TLS may send a client elsewhere (Detect).
import type net from 'node:net';
import tls from 'node:tls';
import { formatHostPort } from '../common/address.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import { describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { injectConnection, rawSocketOf } from '../common/node-internals.js';
import { closeSocket, resetSocket } from '../common/socket-reset.js';
import { AdmissionTable, sourceKey, type AdmissionLimits } from './admission.js';
import { classifyFirstByte } from './first-byte.js';
import { HANDSHAKE_REASONS, handshakeErrorReason, type HandshakeReason } from './reasons.js';

/**
 * A burst that held at least this many unfinished handshakes (each 60–140 KiB of native TLS state, docs/ca.md
 * "Limits", docs/datapath.md "Memory under floods") asks for a heap trim once it is over, i.e. once no more than
 * TRIM_LOW_WATER are left.
 */
export const TRIM_AFTER_HANDSHAKES = 64;
export const TRIM_LOW_WATER = 8;

/** The bounds of one front door, and the time a connection has to finish its TLS handshake from accept. */
export interface FrontDoorLimits extends AdmissionLimits {
  handshakeTimeoutMs: number;
}

/** One connection the front door admitted, as its owner sees it. */
export interface DoorConnection<C> {
  /** The accepted TCP socket. */
  readonly raw: net.Socket;
  /** The peer for log lines: "10.1.2.3:5000", "[fd00::1]:5000". */
  readonly peer: string;
  /** What the caller handed in with the socket (a sidecar inbound: where the connection goes). */
  readonly context: C;
}

/** Where the front door reports what it did; the caller counts and logs (throttled). */
export interface FrontDoorReport {
  /** A connection the front door closed, with the code of why. */
  refused(peer: string, reason: HandshakeReason, detail?: string): void;
  /** The peer went away before its handshake finished: not a refusal (a TCP probe, a port scan). */
  abandoned(peer: string, detail?: string): void;
}

/**
 * The step between accept and TLS, for a listener that also serves clients that do not speak TLS (the transparent
 * inbound's permissive mode): the first byte decides (first-byte.ts), and a client silent for `silenceMs` counts as
 * not speaking TLS (a server-speaks-first protocol: MySQL, SMTP). The bytes read are put back for whoever takes it.
 */
export interface Detect<C> {
  silenceMs: number;
  /** The connection leaves the front door here: its first byte was not a TLS handshake record, or it said nothing. */
  notTls(conn: DoorConnection<C>, silent: boolean): void;
}

export interface FrontDoorOptions<C> {
  /** The TLS server's options (client certificates, ALPN, versions, the first context); its deadline is the front door's. */
  tls: tls.TlsOptions;
  limits: FrontDoorLimits;
  clock: Clock;
  log: Logger;
  report: FrontDoorReport;
  /** TLS is up: the connection is its owner's from here on (it closes it; the front door forgets it once closed). */
  established(socket: tls.TLSSocket, conn: DoorConnection<C>): void;
  /** The step before TLS, asked once per connection; undefined (or no `detect`): straight to TLS. */
  detect?(context: C): Detect<C> | undefined;
  /** Told when a burst of handshakes is over, to give their freed native memory back (common/heap-trimmer.ts). */
  heap?: { request(): void };
  /** Told whenever the counts change (a gauge). */
  counted?(counts: { handshaking: number; established: number; sources: number }): void;
}

/** A connection from accept to the end of its handshake. */
interface Conn<C> extends DoorConnection<C> {
  door: FrontDoor<C>;
  source: string;
  /** The handshake deadline. */
  timer: TimerHandle | undefined;
  /** Detect's silence timer. */
  silence: TimerHandle | undefined;
  /** Handed to the TLS server: from here TLS reports how its handshake ends. */
  tls: boolean;
  /** Set once the front door let go of it (established, refused, cut, sent elsewhere): later events are ignored. */
  done: boolean;
  detect: Detect<C> | undefined;
}

const CONN = Symbol('ztmesh.front-door.conn');
type RawSocket = net.Socket & { [CONN]?: Conn<unknown> };

function ignore(): void {}

/** Listeners shared by every connection (no closure per socket); `this` is the socket. */
function onFirstReadable(this: RawSocket): void {
  this.removeListener('readable', onFirstReadable);
  const conn = this[CONN];
  if (conn) conn.door.firstBytes(conn);
}
function onRawClose(this: RawSocket): void {
  const conn = this[CONN];
  if (conn) conn.door.closed(conn);
}

/**
 * The front door of one listener (or one inbound policy). Invariants: every admitted connection is either handed to
 * its owner once TLS is up, or closed with exactly one report (refused or abandoned); none is held past
 * handshakeTimeoutMs from accept unless established; TLS state is allocated only once a client's first bytes arrive,
 * so a silent client costs a bare socket; the bounds of admission.ts hold at every accept.
 */
export class FrontDoor<C> {
  /** A never-listening tls.Server used as the handshake engine: sockets are handed to it (injectConnection). */
  private readonly engine: tls.Server;
  private readonly table: AdmissionTable<Conn<C>>;
  /** Most unfinished handshakes held since the last trim request. */
  private burstPeak = 0;
  /** Set once this Node.js was found not to name a TLS socket's TCP socket; said once, then looked up by address. */
  private internalsChanged = false;

  constructor(private readonly opts: FrontDoorOptions<C>) {
    this.table = new AdmissionTable(opts.limits);
    // rejectUnauthorized stays false so that every failure reaches the owner with its reason. Node's own
    // handshakeTimeout only reports and restarts on every byte: the front door's deadline runs from accept.
    this.engine = tls.createServer({ ...opts.tls, rejectUnauthorized: false, handshakeTimeout: 0 });
    this.engine.on('secureConnection', (t: tls.TLSSocket) => this.secure(t));
    this.engine.on('tlsClientError', (err: Error, t: tls.TLSSocket) => this.failed(err, t));
  }

  /** Swaps key, certificate and client roots; applies from the next handshake. */
  setContext(context: tls.SecureContextOptions): void {
    this.engine.setSecureContext(context);
  }

  /** Connections whose handshake has not finished. */
  get pendingCount(): number {
    return this.table.pendingCount;
  }

  /** Connections held now, by state (established ones only where the limits bound connections). */
  counts(): { handshaking: number; established: number; sources: number } {
    return this.table.counts();
  }

  /** Takes one accepted TCP socket through admission, the step before TLS and the handshake. */
  handle(socket: net.Socket, context: C): void {
    const raw = socket as RawSocket;
    raw.on('error', ignore); // a reset before TLS ends in 'close'; TLS reports its own errors
    const address = raw.remoteAddress;
    if (!address) {
      raw.destroy(); // gone already
      return;
    }
    const conn: Conn<C> = {
      door: this, raw, peer: formatHostPort(address, raw.remotePort ?? 0), context, source: sourceKey(address),
      timer: undefined, silence: undefined, tls: false, done: false, detect: this.opts.detect?.(context),
    };
    const admission = this.table.admit(conn, conn.source);
    if (!admission.ok) {
      conn.done = true;
      raw.destroy(); // a FIN, as for a cut
      this.opts.report.refused(conn.peer, admission.reason);
      return;
    }
    raw[CONN] = conn as Conn<unknown>;
    const cut = admission.cut;
    if (cut) this.cut(cut.key, HANDSHAKE_REASONS.handshakeLimit, `oldest unfinished handshake at the ${cut.bound} bound of ${cut.limit}`);
    this.changed();
    raw.setNoDelay(true);
    // Half-open only once the owner says so: a FIN during the handshake ends it (node would wait for the deadline).
    raw.allowHalfOpen = false;
    raw.once('close', onRawClose);
    conn.timer = this.opts.clock.setTimeout(() => this.cut(conn, HANDSHAKE_REASONS.handshakeTimeout), this.opts.limits.handshakeTimeoutMs);
    if (conn.detect) this.awaitSilence(conn, conn.detect);
    raw.on('readable', onFirstReadable);
  }

  /** Closes the connections still handshaking (a listener that stops); established ones are their owners'. */
  closeUnfinished(): void {
    for (const c of [...this.table.pending()]) {
      this.letGo(c);
      this.table.remove(c);
      c.raw.destroy();
    }
    this.changed();
  }

  /** The first bytes arrived (or the peer hung up): the step before TLS, then the TLS server. */
  firstBytes(conn: Conn<C>): void {
    if (conn.done) return;
    const raw = conn.raw;
    if (raw.readableLength === 0) {
      raw.destroy(); // hung up without a word: reported as abandoned once closed
      return;
    }
    if (conn.detect) {
      const chunk = raw.read() as Buffer;
      raw.unshift(chunk); // the TLS server reads it first
      if (classifyFirstByte(chunk) !== 'tls') return this.leave(conn, conn.detect, false);
    }
    this.table.spoke(conn);
    conn.tls = true;
    conn.silence?.cancel();
    try {
      injectConnection(this.engine, raw);
    } catch (e) {
      this.cut(conn, HANDSHAKE_REASONS.nodeInternalsChanged, describe(e).message);
    }
  }

  /** The TCP socket closed: forgotten; a peer that left before TLS took over is reported as abandoned. */
  closed(conn: Conn<C>): void {
    this.table.remove(conn);
    this.changed();
    if (conn.done || conn.tls) return; // once TLS has it, its error says how the handshake ended
    this.letGo(conn);
    this.opts.report.abandoned(conn.peer, 'closed before its first byte');
  }

  /** Detect: a client that says nothing within silenceMs does not speak TLS first (a server-speaks-first protocol). */
  private awaitSilence(conn: Conn<C>, detect: Detect<C>): void {
    if (detect.silenceMs >= this.opts.limits.handshakeTimeoutMs) return;
    conn.silence = this.opts.clock.setTimeout(() => {
      conn.raw.removeListener('readable', onFirstReadable);
      this.leave(conn, detect, true);
    }, detect.silenceMs);
  }

  /** Detect sent the connection elsewhere: it is no longer a handshake, and its owner has it. */
  private leave(conn: Conn<C>, detect: Detect<C>, silent: boolean): void {
    this.letGo(conn);
    this.table.establish(conn);
    this.changed();
    detect.notTls(conn, silent);
  }

  /**
   * Refuses a connection still in its handshake (deadline, a bound, a broken internal) and closes it. A FIN, not an RST:
   * a client of another process may not have seen its connect complete yet, and an RST would hide that it was admitted.
   */
  private cut(conn: Conn<C>, reason: HandshakeReason, detail?: string): void {
    if (conn.done) return;
    this.letGo(conn);
    this.table.remove(conn);
    this.changed();
    this.opts.report.refused(conn.peer, reason, detail);
    conn.raw.destroy();
  }

  private secure(t: tls.TLSSocket): void {
    const conn = this.connOf(t);
    if (!conn || conn.done) {
      closeSocket(t); // closed by the front door meanwhile
      return;
    }
    this.letGo(conn);
    this.table.establish(conn);
    this.changed();
    this.opts.established(t, conn);
  }

  private failed(err: Error & { code?: string }, t: tls.TLSSocket): void {
    const conn = this.connOf(t);
    if (!conn || conn.done) {
      closeSocket(t); // the front door closed it and said why
      return;
    }
    this.letGo(conn);
    this.table.remove(conn);
    this.changed();
    const reason = handshakeErrorReason(err);
    if (reason === HANDSHAKE_REASONS.peerClosed) this.opts.report.abandoned(conn.peer, err.code);
    else this.opts.report.refused(conn.peer, reason, err.code ?? err.message);
    resetSocket(t, conn.raw);
  }

  /**
   * The connection under a TLS socket of ours. Should Node.js stop naming a TLS socket's TCP socket, say so once (not
   * as a handshake timeout of every connection) and find it by its addresses among the unfinished handshakes instead.
   */
  private connOf(t: tls.TLSSocket): Conn<C> | undefined {
    try {
      return (rawSocketOf(t) as RawSocket)[CONN] as Conn<C> | undefined;
    } catch (e) {
      if (!this.internalsChanged) {
        this.internalsChanged = true;
        const { code, message } = describe(e);
        this.opts.log.error({ code, err: message }, 'front door: finding each TLS socket\'s TCP socket by its addresses instead');
      }
      for (const c of this.table.pending()) {
        if (c.raw.remotePort === t.remotePort && c.raw.localPort === t.localPort && c.raw.remoteAddress === t.remoteAddress) return c;
      }
      return undefined;
    }
  }

  /** Ends the front door's part: later events are ignored and no timer of it is left. */
  private letGo(conn: Conn<C>): void {
    conn.done = true;
    conn.timer?.cancel();
    conn.silence?.cancel();
  }

  private changed(): void {
    const pending = this.table.pendingCount;
    this.burstPeak = Math.max(this.burstPeak, pending);
    if (this.burstPeak >= TRIM_AFTER_HANDSHAKES && pending <= TRIM_LOW_WATER) {
      this.burstPeak = pending;
      this.opts.heap?.request();
    }
    this.opts.counted?.(this.table.counts());
  }
}
