// The sidecar's admin routes (docs/design.md "Admin endpoints and JSON") and the health-only routes for the kubelet.
// Status, metrics and rotation come through SidecarAdmin, so admin/ knows nothing of sidecar/ or identity/.
import { json, type Routes } from './http-server.js';
import { probeRoutes, type ReadinessReport } from './probe-routes.js';
import type { SidecarStatus } from './status-types.js';

/** What the admin server asks of the running sidecar. */
export interface SidecarAdmin {
  status(): SidecarStatus;
  /** Ready only with a valid SVID and no pending readiness part. */
  readiness(): ReadinessReport;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** PEM of the current chain (empty without an SVID) and the trust bundle. Never the key. */
  certs(): { chainPem: string; bundlePem: string };
  /** Forces a renewal now. */
  rotate(): Promise<{ ok: true; serial: string; notAfter: string } | { ok: false; error: { code: string; message: string } }>;
}

/** /healthz and /readyz only: the kubelet's port, bound on all interfaces. */
export function healthRoutes(admin: SidecarAdmin): Routes {
  return probeRoutes(() => admin.readiness());
}

/** Every admin endpoint: loopback only. */
export function adminRoutes(admin: SidecarAdmin): Routes {
  return {
    ...healthRoutes(admin),
    'GET /status': () => json(200, admin.status()),
    'GET /metrics': async () => {
      const m = await admin.metrics();
      return { status: 200, body: m.body, contentType: m.contentType };
    },
    'GET /certs': () => {
      const c = admin.certs();
      const body = `# certificate chain (leaf first)\n${c.chainPem || '# no SVID yet\n'}# trust bundle\n${c.bundlePem}`;
      return { status: 200, body, contentType: 'application/x-pem-file' };
    },
    'POST /rotate': async () => {
      const r = await admin.rotate();
      return r.ok ? json(200, { rotated: true, serial: r.serial, notAfter: r.notAfter }) : json(503, { rotated: false, error: r.error });
    },
  };
}
