// The trust-bundle kind of the mesh stream: the CA's bundle (ca/root/trust-bundle.ts), always as a snapshot, its
// version the bundle's sequence (equal across replicas that read the same files).
import type { TrustBundleSource } from '../root/trust-bundle.js';
import { bundleMessage } from '../serving/service.js';
import { MESH_KINDS } from '../../mesh/kinds.js';
import type { MeshUpdate, WireBundle } from '../../mesh/codec.js';
import { ChangeSignal, type KindSource } from './kind-source.js';

/** Serves the bundle in force to every stream. */
export function bundleKind(bundle: TrustBundleSource): KindSource & { close(): void } {
  const signal = new ChangeSignal();
  let first = true;
  const unsubscribe = bundle.subscribe(() => {
    if (first) first = false;
    else signal.changed();
  });
  const version = () => String(bundle.current().sequence);
  // One update object per bundle: every stream sends the same, encoded once.
  let last: MeshUpdate | undefined;
  return {
    kind: MESH_KINDS.trustBundle,
    version,
    next(_peer, held): MeshUpdate | undefined {
      const b = bundle.current();
      if (held === String(b.sequence)) return undefined;
      if (last?.version === String(b.sequence)) return last;
      const m = bundleMessage(b);
      const wire: WireBundle = { trustDomain: b.trustDomain, roots: m.roots as Buffer[], sequence: String(b.sequence), crossCertificates: m.crossCertificates as Buffer[] };
      last = { kind: MESH_KINDS.trustBundle, version: String(b.sequence), base: '', bundle: wire };
      return last;
    },
    subscribe: (l) => signal.subscribe(l),
    close: unsubscribe,
  };
}
