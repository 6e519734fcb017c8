// One sidecar's mesh stream on the CA: per kind, what was sent, what the sidecar acknowledged, and what goes next.
// Invariants (docs/design.md "Mesh stream", acknowledgements and flow control):
// - Per kind at most one update is in flight. Changes meanwhile are not queued: once the ack comes, the next update
//   is computed from the source as it is then (coalesced), so a sidecar that never acks costs one pending update.
// - A delta is only ever on the version the sidecar acknowledged last. A NACK keeps what the sidecar held; a NACKed
//   delta (base_mismatch) is answered with a snapshot, a NACKed snapshot is not sent again until its kind changes,
//   so no peer can make the CA encode the same snapshot in a loop.
// - An update not acknowledged within ACK_TIMEOUT_MS ends the stream (the sidecar reconnects and gets snapshots).
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { MeshRequest, MeshUpdate } from '../../mesh/codec.js';
import type { KindSource, MeshPeer } from './kind-source.js';

/** How long an update may wait for its ack before the stream is ended (`ack_timeout`). */
export const ACK_TIMEOUT_MS = 60_000;

/** Where one kind stands on one stream, as GET /mesh shows it. */
export interface KindState {
  /** The version in flight (sent, not yet acknowledged), or null. */
  sent: string | null;
  /** The version the sidecar acknowledged last (what it holds), or null. */
  acked: string | null;
  ackedAtMs: number | null;
  lastNack: { version: string; code: string; detail: string; atMs: number } | null;
  /** Updates sent on this stream: snapshots and deltas. */
  snapshots: number;
  deltas: number;
}

interface KindSlot {
  source: KindSource;
  state: KindState;
  inFlight: { version: string; snapshot: boolean; timer: TimerHandle } | undefined;
  /** A snapshot the sidecar refused: not sent again while the kind's version stays this. */
  refused: string | undefined;
  unsubscribe: () => void;
}

export interface MeshStreamDeps {
  peer: MeshPeer;
  sources: readonly KindSource[];
  clock: Clock;
  /** Writes one update to the sidecar. */
  write: (u: MeshUpdate) => void;
  /** Ends the stream with a stable code (ack_timeout). */
  end: (code: string, detail: string) => void;
  /** Counts an update sent or an ack received (metrics). */
  onSent?: (kind: string, snapshot: boolean) => void;
  onAck?: (kind: string, applied: boolean) => void;
}

/** The flow control of one stream, over the kinds it subscribed to. */
export class MeshStream {
  private readonly slots = new Map<string, KindSlot>();
  private closed = false;

  constructor(private readonly deps: MeshStreamDeps) {
    for (const source of deps.sources) {
      const slot: KindSlot = {
        source, inFlight: undefined, refused: undefined, unsubscribe: () => {},
        state: { sent: null, acked: null, ackedAtMs: null, lastNack: null, snapshots: 0, deltas: 0 },
      };
      this.slots.set(source.kind, slot);
    }
  }

  /** Sends a snapshot of every kind, then follows their changes. */
  start(): void {
    for (const slot of this.slots.values()) {
      slot.unsubscribe = slot.source.subscribe(() => this.pump(slot));
      this.pump(slot);
    }
  }

  /**
   * Takes an ack. Returns a refusal code when it acknowledges nothing in flight (a kind not subscribed, a version
   * not sent): the caller counts it; the stream goes on.
   */
  ack(a: Extract<MeshRequest, { type: 'ack' }>): string | undefined {
    const slot = this.slots.get(a.kind);
    if (!slot) return 'ack_unknown_kind';
    const f = slot.inFlight;
    if (!f || f.version !== a.version) return 'ack_unexpected_version';
    f.timer.cancel();
    slot.inFlight = undefined;
    slot.state.sent = null;
    const now = this.deps.clock.now();
    this.deps.onAck?.(a.kind, a.applied);
    if (a.applied) {
      slot.state.acked = a.version;
      slot.state.ackedAtMs = now;
      slot.refused = undefined;
    } else {
      slot.state.lastNack = { version: a.version, code: a.errorCode || 'refused', detail: a.errorDetail.slice(0, 300), atMs: now };
      if (f.snapshot) slot.refused = a.version;
      // A delta on a base the sidecar does not hold: forget what we thought it held; the next update is a snapshot.
      else if (a.errorCode === 'base_mismatch') slot.state.acked = null;
      else slot.refused = a.version;
    }
    this.pump(slot);
    return undefined;
  }

  /** Per kind, where this stream stands. */
  kinds(): Record<string, KindState> {
    return Object.fromEntries([...this.slots].map(([k, s]) => [k, { ...s.state }]));
  }

  close(): void {
    this.closed = true;
    for (const slot of this.slots.values()) {
      slot.unsubscribe();
      slot.inFlight?.timer.cancel();
    }
  }

  private pump(slot: KindSlot): void {
    if (this.closed || slot.inFlight) return;
    const { peer } = this.deps;
    if (slot.refused !== undefined && slot.source.version(peer) === slot.refused) return;
    const u = slot.source.next(peer, slot.state.acked ?? undefined);
    if (!u) return;
    const snapshot = u.base === '';
    const timer = this.deps.clock.setTimeout(() => {
      if (this.closed || slot.inFlight?.version !== u.version) return;
      this.deps.end('ack_timeout', `no ack of ${u.kind} version ${u.version} within ${ACK_TIMEOUT_MS / 1000} s`);
    }, ACK_TIMEOUT_MS);
    slot.inFlight = { version: u.version, snapshot, timer };
    slot.state.sent = u.version;
    if (snapshot) slot.state.snapshots++;
    else slot.state.deltas++;
    this.deps.onSent?.(u.kind, snapshot);
    this.deps.write(u);
  }
}
