// The config kind of the mesh stream: the mesh-wide defaults the CA was started with (--default-inbound-mode), one
// snapshot per stream, version `<instance>-1`.
import { formatVersion, MESH_KINDS } from '../../mesh/kinds.js';
import type { MeshConfig } from '../../mesh/codec.js';
import { ChangeSignal, type KindSource } from './kind-source.js';

/** Serves a fixed mesh-wide configuration. */
export function configKind(instance: string, config: MeshConfig): KindSource {
  const signal = new ChangeSignal();
  const version = formatVersion(instance, 1);
  const update = { kind: MESH_KINDS.config, version, base: '' as const, config };
  return {
    kind: MESH_KINDS.config,
    version: () => version,
    next: (_peer, held) => (held === version ? undefined : update),
    subscribe: (l) => signal.subscribe(l),
  };
}
