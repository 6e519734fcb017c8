// The inbound mode a transparent sidecar resolves to: its own transparent.inboundMode, else the CA's mesh-wide
// --default-inbound-mode (the config kind of the mesh stream), else strict. The pure resolution as a table, then the
// consumer of the config kind following the CA's default only where the sidecar set none.
import { describe, expect, it } from 'vitest';
import { resolveInboundMode, SidecarMeshConfig } from '../../../../src/sidecar/mesh/mesh-config.js';
import type { InboundMode } from '../../../../src/mesh/kinds.js';
import type { MeshUpdate } from '../../../../src/mesh/codec.js';
import { captureLogger } from '../../../helpers/capture-logger.js';

const configUpdate = (inboundMode?: InboundMode): MeshUpdate => ({ kind: 'config', version: 'c-1', base: '', config: inboundMode ? { inboundMode } : {} });

describe('resolveInboundMode', () => {
  it.each([
    // [sidecar's own, CA's default, mode, source]
    [undefined, undefined, 'strict', 'default'],
    [undefined, 'permissive', 'permissive', 'ca'],
    [undefined, 'strict', 'strict', 'ca'],
    ['strict', 'permissive', 'strict', 'config'],
    ['permissive', 'strict', 'permissive', 'config'],
    ['permissive', undefined, 'permissive', 'config'],
    ['strict', undefined, 'strict', 'config'],
  ] as const)('own %s, CA %s → %s (from %s)', (own, ca, mode, source) => {
    expect(resolveInboundMode(own, ca)).toEqual({ mode, source });
  });
});

describe('SidecarMeshConfig', () => {
  it('a sidecar that sets none follows the CA\'s default (and back to strict without one), and logs the change', () => {
    const logs = captureLogger();
    const c = new SidecarMeshConfig(undefined, logs.logger);
    expect(c.inboundMode()).toEqual({ mode: 'strict', source: 'default' });
    expect(c.apply(configUpdate('permissive'))).toBeUndefined();
    expect(c.inboundMode()).toEqual({ mode: 'permissive', source: 'ca' });
    expect(logs.lines.filter((l) => l.msg === 'inbound mode changed by the mesh-wide default')).toEqual([expect.objectContaining({ inboundMode: 'permissive', from: 'ca' })]);
    c.apply(configUpdate());
    expect(c.inboundMode()).toEqual({ mode: 'strict', source: 'default' });
  });

  it('a sidecar that sets strict keeps it whatever the CA says, and logs no change', () => {
    const logs = captureLogger();
    const c = new SidecarMeshConfig('strict', logs.logger);
    c.apply(configUpdate('permissive'));
    expect(c.inboundMode()).toEqual({ mode: 'strict', source: 'config' });
    expect(logs.lines.filter((l) => l.msg === 'inbound mode changed by the mesh-wide default')).toEqual([]);
  });

  it('refuses another kind and keeps the mode', () => {
    const c = new SidecarMeshConfig(undefined, captureLogger().logger);
    c.apply(configUpdate('permissive'));
    expect(c.apply({ kind: 'membership', version: 'm-1', base: '', upsert: [], remove: [] })).toMatchObject({ code: 'unknown_kind' });
    expect(c.inboundMode()).toEqual({ mode: 'permissive', source: 'ca' });
  });
});
