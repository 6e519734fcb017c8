// `ztmesh_build_info{version}` (always 1), registered by the sidecar, the CA and the webhook on their own registry,
// so that dashboards and `ztmesh check --proxy` can tell which version each process runs (docs/design.md "Metrics").
import { Gauge, type Registry } from 'prom-client';
import { ZTMESH_VERSION } from './version.js';

export const BUILD_INFO_METRIC = 'ztmesh_build_info';

/** Registers the build-info gauge on `registry` (once: a registry that has it already is left as it is). */
export function registerBuildInfo(registry: Registry): void {
  if (registry.getSingleMetric(BUILD_INFO_METRIC)) return;
  new Gauge({ name: 'ztmesh_build_info', help: 'The ztmesh version of this process (always 1)', labelNames: ['version'], registers: [registry] }).set({ version: ZTMESH_VERSION }, 1);
}
