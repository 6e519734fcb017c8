// The trust-bundle kind of the mesh stream: the CA's bundle (ca/root/trust-bundle.ts) with the JWT authorities it
// publishes now (ca/jwt/jwt-authorities.ts), always as a snapshot; its version is mesh/kinds.ts trustBundleVersion:
// the X.509 sequence, then a hash of the JWT keys, equal across replicas that read the same files.
// Invariants: a change of either the roots or the JWT authorities is a new version and one change signal; every
// stream is sent the same update object for one version (encoded once).
import type { JwtAuthority } from '../../pki/jwt-authority.js';
import type { BundleSnapshot, TrustBundleSource } from '../root/trust-bundle.js';
import { bundleMessage } from '../serving/service.js';
import { MESH_KINDS, trustBundleVersion } from '../../mesh/kinds.js';
import type { MeshUpdate, WireBundle } from '../../mesh/codec.js';
import { ChangeSignal, type KindSource } from './kind-source.js';

/** The JWT authorities a CA publishes (ca/jwt/jwt-authorities.ts JwtAuthoritySource); subscribe calls at once. */
export interface JwtAuthorityView {
  current(): readonly JwtAuthority[];
  subscribe(listener: () => void): () => void;
}

/** Serves the bundle in force, with the JWT authorities published now, to every stream. */
export function bundleKind(bundle: Pick<TrustBundleSource, 'current' | 'subscribe'>, jwt?: JwtAuthorityView): KindSource & { close(): void } {
  const signal = new ChangeSignal();
  // Both sources call at once on subscribe: only later calls are changes.
  const onChange = (): (() => void) => {
    let first = true;
    return () => {
      if (first) first = false;
      else signal.changed();
    };
  };
  const unsubscribe = [bundle.subscribe(onChange()), ...(jwt ? [jwt.subscribe(onChange())] : [])];
  // One update per (bundle, authorities) pair, both immutable snapshots: every stream sends the same, encoded once.
  let last: { b: BundleSnapshot; a: readonly JwtAuthority[]; update: MeshUpdate & { bundle: WireBundle } } | undefined;
  const current = (): MeshUpdate => {
    const b = bundle.current();
    const a = jwt?.current() ?? [];
    if (last?.b === b && last.a === a) return last.update;
    const wire = bundleMessage(b, a);
    const update = { kind: MESH_KINDS.trustBundle, version: trustBundleVersion(wire.sequence, wire.jwtAuthorities), base: '' as const, bundle: wire };
    last = { b, a, update };
    return update;
  };
  return {
    kind: MESH_KINDS.trustBundle,
    version: () => current().version,
    next(_peer, held): MeshUpdate | undefined {
      const u = current();
      return held === u.version ? undefined : u;
    },
    subscribe: (l) => signal.subscribe(l),
    close: () => { for (const u of unsubscribe) u(); },
  };
}
