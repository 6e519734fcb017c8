// The mesh-wide configuration a sidecar receives on the mesh stream (the config kind), and the inbound mode it
// resolves to: the sidecar's own transparent.inboundMode first, then the CA's mesh-wide default, then strict.
import type { Logger } from '../../common/logger.js';
import type { MeshConfig, MeshUpdate, Refusal } from '../../mesh/codec.js';
import { DEFAULT_INBOUND_MODE, MESH_KINDS, type InboundMode } from '../../mesh/kinds.js';
import type { MeshConsumer } from '../../identity/mesh-client.js';

/** Where the inbound mode in force comes from. */
export type InboundModeSource = 'config' | 'ca' | 'default';

/**
 * The inbound mode in force and where it comes from: the sidecar's own `transparent.inboundMode` (config or the
 * `ztmesh.io/inbound-mode` annotation), else the CA's mesh-wide `--default-inbound-mode`, else strict. Pure.
 */
export function resolveInboundMode(configured: InboundMode | undefined, meshDefault: InboundMode | undefined): { mode: InboundMode; source: InboundModeSource } {
  if (configured) return { mode: configured, source: 'config' };
  if (meshDefault) return { mode: meshDefault, source: 'ca' };
  return { mode: DEFAULT_INBOUND_MODE, source: 'default' };
}

/** The consumer of the config kind; inboundMode() is read per connection. */
export class SidecarMeshConfig implements MeshConsumer {
  readonly kind = MESH_KINDS.config;
  private mesh: MeshConfig = {};

  constructor(private readonly configured: InboundMode | undefined, private readonly log: Logger) {}

  apply(u: MeshUpdate): Refusal | undefined {
    if (u.kind !== MESH_KINDS.config) return { code: 'unknown_kind', detail: u.kind };
    const before = this.inboundMode();
    this.mesh = u.config;
    const after = this.inboundMode();
    if (after.mode !== before.mode) this.log.info({ inboundMode: after.mode, from: after.source }, 'inbound mode changed by the mesh-wide default');
    return undefined;
  }

  /** The transparent inbound's mode now, and where it comes from. */
  inboundMode(): { mode: InboundMode; source: InboundModeSource } {
    return resolveInboundMode(this.configured, this.mesh.inboundMode);
  }
}
