// What the mesh stream asks of each kind of mesh data (docs/design.md "Mesh stream"): its version for one peer, the
// update that brings a peer up to date, and a signal when it changed. A new kind (issue 21's policy) is one more
// KindSource; the stream, its flow control and the registry stay as they are.
import type { MeshKind } from '../../mesh/kinds.js';
import type { MeshUpdate } from '../../mesh/codec.js';

/** Who a stream serves: the authenticated SPIFFE ID (never anything the peer claims) and its address. */
export interface MeshPeer {
  spiffeId: string;
  /** "address:port", as grpc-js names the peer. */
  address: string;
}

/** One kind of mesh data, as the CA serves it to every stream that subscribed to it. */
export interface KindSource {
  readonly kind: MeshKind;
  /** The version `peer` should hold now (a kind may serve each peer its own view). */
  version(peer: MeshPeer): string;
  /**
   * The update that brings a peer holding `held` (undefined: nothing this CA knows of) to the current version: a
   * delta when the kind can compute one on `held` and it is smaller, else a snapshot. Undefined when `held` is current.
   */
  next(peer: MeshPeer, held: string | undefined): MeshUpdate | undefined;
  /** Calls `listener` after every change (batched: a burst of changes is one call). Returns unsubscribe. */
  subscribe(listener: () => void): () => void;
}

/** Listeners called once after a burst of synchronous changes (a relist of 10,000 pods is one call). */
export class ChangeSignal {
  private readonly listeners = new Set<() => void>();
  private queued = false;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Marks a change; listeners run once, after the current synchronous work. */
  changed(): void {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      for (const l of [...this.listeners]) l();
    });
  }
}
