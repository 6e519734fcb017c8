// Which TCP connections the CA holds, by state and source address, and the admission decision for a new one.
// Pure bookkeeping over opaque handles: the TLS front door does the socket I/O.

/** Connection caps of the CA's gRPC port. */
export interface ConnectionLimits {
  /** Connections held at once, handshaking or established. */
  max: number;
  /** Connections held at once from one source address. */
  maxPerSource: number;
}

/**
 * File descriptors kept back from the connection cap: stdio, signing workers, the admin port and its clients,
 * the watched bundle, token files and the Kubernetes API client.
 */
export const FD_RESERVE = 128;

/** The connection cap that fits `nofile` (the process's open-file limit) with FD_RESERVE to spare. Pure. */
export function fitConnectionCap(max: number, nofile: number | undefined): number {
  return nofile === undefined ? max : Math.max(1, Math.min(max, nofile - FD_RESERVE));
}

/** Why a connection was not admitted (also the `reason` label of ztmesh_ca_connections_refused_total). */
export type AdmissionRefusal = 'connection_limit' | 'source_connection_limit';

/** The decision for a new connection. `evict` is a handshaking connection to close to make room for it. */
export type Admission<T> = { ok: true; evict?: T } | { ok: false; reason: AdmissionRefusal };

/**
 * Normalises a peer address into the key the per-source cap counts: IPv4-mapped IPv6 becomes plain IPv4,
 * so a dual-stack listener counts one client once.
 */
export function sourceKey(remoteAddress: string): string {
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress.toLowerCase();
}

/**
 * Tracks connections from accept to close. A source at its cap is refused. At the total cap a connection still
 * handshaking is evicted for the newcomer: it has not proved anything yet, and a legitimate handshake takes
 * milliseconds, so a flood of silent sockets cannot lock real clients out. The oldest that has sent nothing goes
 * first, then the oldest whose handshake started longest ago, so a real client in the middle of its handshake
 * outlasts any number of silent sockets. Only when every held connection is established is the newcomer refused.
 */
export class ConnectionTable<T> {
  /** Admitted, not a byte received yet; insertion-ordered, so the first entry is the oldest. */
  private readonly silent = new Map<T, string>();
  /** Sent its first bytes, handshake not finished; ordered by when the bytes came. */
  private readonly handshaking = new Map<T, string>();
  private readonly established = new Map<T, string>();
  private readonly perSource = new Map<string, number>();

  constructor(readonly limits: ConnectionLimits) {}

  /** Decides on a new connection from `source` and, when admitted, records it as handshaking. */
  admit(conn: T, source: string): Admission<T> {
    if ((this.perSource.get(source) ?? 0) >= this.limits.maxPerSource) return { ok: false, reason: 'source_connection_limit' };
    let evict: T | undefined;
    if (this.size() >= this.limits.max) {
      const oldest = this.silent.size > 0 ? this.silent.keys().next() : this.handshaking.keys().next();
      if (oldest.done) return { ok: false, reason: 'connection_limit' };
      evict = oldest.value;
      this.remove(evict);
    }
    this.silent.set(conn, source);
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    return evict === undefined ? { ok: true } : { ok: true, evict };
  }

  /** Marks a connection as having sent its first bytes: evicted only after every silent one. */
  spoke(conn: T): void {
    const source = this.silent.get(conn);
    if (source === undefined) return;
    this.silent.delete(conn);
    this.handshaking.set(conn, source);
  }

  /** Marks a connection as past its TLS handshake; it is no longer evictable. */
  establish(conn: T): void {
    const source = this.silent.get(conn) ?? this.handshaking.get(conn);
    if (source === undefined) return;
    this.silent.delete(conn);
    this.handshaking.delete(conn);
    this.established.set(conn, source);
  }

  /** True while the connection is held and has not finished its handshake. */
  isHandshaking(conn: T): boolean {
    return this.silent.has(conn) || this.handshaking.has(conn);
  }

  /** Forgets a connection (closed, refused or evicted); idempotent. */
  remove(conn: T): void {
    const source = this.silent.get(conn) ?? this.handshaking.get(conn) ?? this.established.get(conn);
    if (source === undefined) return;
    this.silent.delete(conn);
    this.handshaking.delete(conn);
    this.established.delete(conn);
    const n = (this.perSource.get(source) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(source);
    else this.perSource.set(source, n);
  }

  size(): number {
    return this.silent.size + this.handshaking.size + this.established.size;
  }

  /** `handshaking` counts the silent ones too. */
  counts(): { handshaking: number; established: number; sources: number } {
    return { handshaking: this.silent.size + this.handshaking.size, established: this.established.size, sources: this.perSource.size };
  }
}
