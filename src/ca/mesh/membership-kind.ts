// The membership kind of the mesh stream: one versioned set (mesh/versioned-set.ts) that every source of meshed
// destinations writes into (static CIDRs, announcements, the Kubernetes watchers), served to every stream as a
// delta on what it holds when that is smaller than a snapshot.
import { MESH_KINDS } from '../../mesh/kinds.js';
import type { MeshedDestination } from '../../mesh/destination.js';
import type { MeshUpdate } from '../../mesh/codec.js';
import { VersionedSet } from '../../mesh/versioned-set.js';
import { ChangeSignal, type KindSource } from './kind-source.js';

/** What a source of meshed destinations writes through; each source owns the keys under its own prefix. */
export interface MembershipWriter {
  upsert(d: MeshedDestination): void;
  remove(key: string): void;
  /** Makes the entries under `prefix` exactly `list` (a full state: a relist, the static CIDRs). */
  replacePrefix(prefix: string, list: readonly MeshedDestination[]): void;
  /** The source has written its first complete state (a feed the membership waits for: see MembershipKind). */
  complete(): void;
}

/** Key prefixes of the sources (docs/design.md "Mesh stream", membership rules). */
export const MEMBERSHIP_PREFIXES = { pod: 'pod/', service: 'svc/', static: 'static/', announce: 'announce/' } as const;

/**
 * The CA's membership: the set, its writer and its KindSource. With `awaitFeed`, nothing is served until the feed
 * says complete(): an incomplete set (the Kubernetes watchers before their first list) would tell sidecars that
 * meshed destinations are not, and they would send them plaintext. Sidecars keep what they hold meanwhile.
 */
export class MembershipKind implements KindSource, MembershipWriter {
  readonly kind = MESH_KINDS.membership;
  readonly set: VersionedSet;
  private readonly signal = new ChangeSignal();
  private serving: boolean;
  /** The updates of the current version by base ("" for the snapshot): every stream on the same base gets the same object, encoded once. */
  private memo: { version: string; byBase: Map<string, MeshUpdate> } = { version: '', byBase: new Map() };

  constructor(instance: string, opts: { awaitFeed?: boolean } = {}) {
    this.set = new VersionedSet(instance);
    this.serving = !opts.awaitFeed;
  }

  /** Whether membership is served (a feed it waits for has completed its first state). */
  get served(): boolean {
    return this.serving;
  }

  complete(): void {
    if (this.serving) return;
    this.serving = true;
    this.signal.changed();
  }

  upsert(d: MeshedDestination): void {
    if (this.set.upsert(d)) this.signal.changed();
  }

  remove(key: string): void {
    if (this.set.remove(key)) this.signal.changed();
  }

  replacePrefix(prefix: string, list: readonly MeshedDestination[]): void {
    if (this.set.replacePrefix(prefix, list) > 0) this.signal.changed();
  }

  version(): string {
    return this.set.version;
  }

  next(_peer: unknown, held: string | undefined): MeshUpdate | undefined {
    const version = this.set.version;
    if (held === version || !this.serving) return undefined;
    if (this.memo.version !== version) this.memo = { version, byBase: new Map() };
    const delta = held === undefined ? undefined : this.set.deltaFrom(held);
    const base = delta && delta.upsert.length + delta.remove.length < this.set.size ? held! : '';
    let u = this.memo.byBase.get(base);
    if (!u) {
      u = base ? { kind: this.kind, version, base, upsert: delta!.upsert, remove: delta!.remove } : { kind: this.kind, version, base: '', upsert: this.set.snapshot(), remove: [] };
      this.memo.byBase.set(base, u);
    }
    return u;
  }

  subscribe(listener: () => void): () => void {
    return this.signal.subscribe(listener);
  }
}
