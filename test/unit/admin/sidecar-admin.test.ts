// The admin route table over a stub SidecarAdmin: which routes exist on which server, statuses and bodies.
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { adminRoutes, healthRoutes, type SidecarAdmin } from '../../../src/admin/sidecar-admin.js';
import type { SidecarStatus } from '../../../src/admin/status-types.js';

function stub(over: Partial<SidecarAdmin> = {}): SidecarAdmin {
  return {
    status: () => ({ identity: { state: 'available' } } as unknown as SidecarStatus),
    readiness: () => ({ ready: true, pending: [] }),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'ztmesh_ca_reachable 1\n' }),
    certs: () => ({ chainPem: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n', bundlePem: '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n' }),
    rotate: async () => ({ ok: true, serial: 'ab', notAfter: '2026-01-01T00:00:00.000Z' }),
    ...over,
  };
}
const req = {} as IncomingMessage;

describe('sidecar admin routes', () => {
  it('has exactly the endpoints of docs/design.md; the health server only /healthz and /readyz', () => {
    expect(Object.keys(adminRoutes(stub())).sort()).toEqual(['GET /certs', 'GET /healthz', 'GET /metrics', 'GET /readyz', 'GET /status', 'POST /rotate']);
    expect(Object.keys(healthRoutes(stub())).sort()).toEqual(['GET /healthz', 'GET /readyz']);
  });

  it('readyz is 503 with the pending parts', async () => {
    const r = await adminRoutes(stub({ readiness: () => ({ ready: false, pending: ['identity (expired)'] }) }))['GET /readyz']!(req);
    expect(r.status).toBe(503);
    expect(JSON.parse(String(r.body))).toEqual({ ready: false, pending: ['identity (expired)'] });
  });

  it('rotate answers 200 with the serial, or 503 with the stable code', async () => {
    const ok = await adminRoutes(stub())['POST /rotate']!(req);
    expect(ok.status).toBe(200);
    expect(JSON.parse(String(ok.body))).toEqual({ rotated: true, serial: 'ab', notAfter: '2026-01-01T00:00:00.000Z' });
    const bad = await adminRoutes(stub({ rotate: async () => ({ ok: false, error: { code: 'unavailable', message: 'CA x: down' } }) }))['POST /rotate']!(req);
    expect(bad.status).toBe(503);
    expect(JSON.parse(String(bad.body))).toEqual({ rotated: false, error: { code: 'unavailable', message: 'CA x: down' } });
  });

  it('certs returns chain then bundle as PEM; metrics keeps the registry content type', async () => {
    const c = await adminRoutes(stub())['GET /certs']!(req);
    expect(c.contentType).toBe('application/x-pem-file');
    expect(String(c.body)).toMatch(/chain[\s\S]*\nA\n[\s\S]*bundle[\s\S]*\nB\n/);
    const none = await adminRoutes(stub({ certs: () => ({ chainPem: '', bundlePem: 'B' }) }))['GET /certs']!(req);
    expect(String(none.body)).toContain('# no SVID yet');
    const m = await adminRoutes(stub())['GET /metrics']!(req);
    expect(m.contentType).toBe('text/plain; version=0.0.4');
  });
});
