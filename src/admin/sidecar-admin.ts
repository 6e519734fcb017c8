// The sidecar's admin routes (DESIGN.md "Admin endpoint contract") and the health-only routes for the kubelet.
// Status, metrics and rotation come through SidecarAdmin, so admin/ knows nothing of sidecar/ or identity/.
import { json, text, type Routes } from './http-server.js';
import type { SidecarStatus } from './status-types.js';

/** What the admin server asks of the running sidecar. */
export interface SidecarAdmin {
  status(): SidecarStatus;
  /** Ready only with a valid SVID and no pending readiness part. */
  readiness(): { ready: boolean; pending: string[] };
  metrics(): Promise<{ contentType: string; body: string }>;
  /** PEM of the current chain (empty without an SVID) and the trust bundle. Never the key. */
  certs(): { chainPem: string; bundlePem: string };
  /** Forces a renewal now. */
  rotate(): Promise<{ ok: true; serial: string; notAfter: string } | { ok: false; error: { code: string; message: string } }>;
}

function healthz() {
  return text(200, 'ok\n');
}

function readyz(admin: SidecarAdmin) {
  const r = admin.readiness();
  return json(r.ready ? 200 : 503, r);
}

/** /healthz and /readyz only: the kubelet's port, bound on all interfaces. */
export function healthRoutes(admin: SidecarAdmin): Routes {
  return {
    'GET /healthz': healthz,
    'GET /readyz': () => readyz(admin),
  };
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
