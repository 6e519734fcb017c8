// Prometheus metrics of the identity part, read from the manager at scrape time.
// Registered on the Registry the composition root creates; there is no global registry.
import { Counter, Gauge, type Registry } from 'prom-client';
import { IDENTITY_STATES } from '../common/mesh.js';
import type { CaReachability } from './ca-reachability.js';
import type { IdentityManager } from './manager.js';

/** Registers ztmesh_cert_* and ztmesh_ca_reachable on `registry`. */
export function registerIdentityMetrics(registry: Registry, manager: IdentityManager, reachability: CaReachability): void {
  new Gauge({
    name: 'ztmesh_cert_expiry_timestamp_seconds', help: 'notAfter of the current SVID (Unix seconds)', registers: [registry],
    collect() {
      const svid = manager.current().svid;
      if (svid) this.set(svid.notAfterMs / 1000);
    },
  });
  new Gauge({
    name: 'ztmesh_cert_refresh_timestamp_seconds', help: 'when the next renewal attempt runs (Unix seconds)', registers: [registry],
    collect() {
      const at = manager.stats().nextAttemptMs;
      if (at !== null) this.set(at / 1000);
    },
  });
  new Counter({
    name: 'ztmesh_cert_rotations_total', help: 'SVIDs obtained from the CA, the first included', registers: [registry],
    collect() {
      this.reset();
      this.inc(manager.stats().rotations);
    },
  });
  new Counter({
    name: 'ztmesh_cert_rotation_failures_total', help: 'failed attempts to obtain an SVID, by stable error code', labelNames: ['code'], registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(manager.stats().failuresByCode)) this.inc({ code }, n);
    },
  });
  new Gauge({
    name: 'ztmesh_ca_reachable', help: '1 when the CA answered the last call or the bundle stream is up', registers: [registry],
    collect() {
      this.set(reachability.current().reachable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ztmesh_identity_state', help: '1 for the current identity state', labelNames: ['state'], registers: [registry],
    collect() {
      const cur = manager.current().state;
      for (const s of IDENTITY_STATES) this.set({ state: s }, s === cur ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ztmesh_trust_bundle_sequence', help: 'sequence of the trust bundle in force (0 = bootstrap file)', registers: [registry],
    collect() {
      this.set(manager.current().bundle?.sequence ?? 0);
    },
  });
}
