// The CA's registry of live mesh streams: who is connected (authenticated ID, address, sidecar version, since
// when), and per kind what each was sent and acknowledged. GET /mesh shows it; issue 21's GET /policies and the
// fleet view read it. Bounded by the streams the front door lets in (connections × streams per connection).
import { isoTime } from '../../common/clock.js';
import type { KindState } from './mesh-stream.js';
import type { MeshPeer } from './kind-source.js';

/** One live stream as the registry holds it. */
export interface StreamRecord {
  peer: MeshPeer;
  sidecarVersion: string;
  sinceMs: number;
  /** Addresses this stream announced (outside Kubernetes), normalized. */
  announced: readonly string[];
  kinds(): Record<string, KindState>;
}

/** One row of GET /mesh `sidecars`. */
export interface SidecarStreamReport {
  spiffeId: string;
  peer: string;
  sidecarVersion: string;
  connectedSince: string;
  announced: readonly string[];
  kinds: Record<string, { sent: string | null; acked: string | null; ackedAt: string | null; lastNack: { version: string; code: string; detail: string; at: string } | null; snapshots: number; deltas: number }>;
}

/** GET /mesh. */
export interface MeshReport {
  replica: string;
  streams: number;
  /** Per kind: the version served now and how many streams acknowledged which version. */
  kinds: Record<string, { version: string; entries?: number; waitingFor?: string; acked: Record<string, number> }>;
  sidecars: SidecarStreamReport[];
}

/** Live streams, by a handle the service keeps. */
export class StreamRegistry {
  private readonly streams = new Set<StreamRecord>();

  /** Adds a stream; returns the function that removes it. */
  add(record: StreamRecord): () => void {
    this.streams.add(record);
    return () => void this.streams.delete(record);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Addresses announced by the live streams of `spiffeId`. */
  announcedBy(spiffeId: string): string[] {
    const out = new Set<string>();
    for (const s of this.streams) if (s.peer.spiffeId === spiffeId) for (const a of s.announced) out.add(a);
    return [...out];
  }

  /** The document of GET /mesh. `current` gives each kind's version (and size) served now. */
  report(replica: string, current: Record<string, { version: string; entries?: number; waitingFor?: string }>): MeshReport {
    const kinds: MeshReport['kinds'] = {};
    for (const [k, c] of Object.entries(current)) kinds[k] = { ...c, acked: {} };
    const sidecars: SidecarStreamReport[] = [];
    for (const s of this.streams) {
      const ks = s.kinds();
      for (const [k, st] of Object.entries(ks)) {
        if (st.acked !== null && kinds[k]) kinds[k].acked[st.acked] = (kinds[k].acked[st.acked] ?? 0) + 1;
      }
      sidecars.push({
        spiffeId: s.peer.spiffeId, peer: s.peer.address, sidecarVersion: s.sidecarVersion, connectedSince: isoTime(s.sinceMs), announced: s.announced,
        kinds: Object.fromEntries(Object.entries(ks).map(([k, st]) => [k, {
          sent: st.sent, acked: st.acked, ackedAt: st.ackedAtMs === null ? null : isoTime(st.ackedAtMs), snapshots: st.snapshots, deltas: st.deltas,
          lastNack: st.lastNack ? { version: st.lastNack.version, code: st.lastNack.code, detail: st.lastNack.detail, at: isoTime(st.lastNack.atMs) } : null,
        }])),
      });
    }
    sidecars.sort((a, b) => a.spiffeId.localeCompare(b.spiffeId) || a.peer.localeCompare(b.peer));
    return { replica, streams: this.streams.size, kinds, sidecars };
  }
}
