// The composition root in-process: real admin and health servers on 127.0.0.1:0, a fake CA client and a fake clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import type { BundleStreamHandlers } from '../../../src/identity/ca-client.js';
import { generateKeySync } from '../../../src/pki/index.js';
import { buildSidecar, type RunningSidecar } from '../../../src/sidecar/app.js';
import { loadSidecarConfig } from '../../../src/sidecar/config.js';
import type { DataPathContext } from '../../../src/sidecar/datapath.js';
import { FakeCaClient } from '../../helpers/fake-ca-client.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

class FakeCa extends FakeCaClient {
  watchBundle(_h: BundleStreamHandlers) {
    return { cancel: () => {} };
  }
}

async function setup(opts: { listenerPart?: boolean; admin?: string; health?: string; failWith?: string } = {}) {
  const clock = new FakeClock(Date.now());
  const ca = makeCa('cluster.local', clock.now() - 60_000);
  const dir = tempDir('ztmesh-app-');
  writeFileSync(join(dir, 'roots.pem'), ca.certPem);
  const config = loadSidecarConfig({ flags: { 'ca-bundle': join(dir, 'roots.pem'), admin: opts.admin ?? '127.0.0.1:0', health: opts.health ?? '127.0.0.1:0', 'ca-address': '127.0.0.1:1' } });
  const client = new FakeCa(ca, clock);
  client.failWith = opts.failWith;
  let markListenerReady = () => {};
  const sidecar = await buildSidecar(config, {
    clock, log: silentLogger(), caClient: client, random: () => 0.5, generateKey: async () => generateKeySync(),
    startDataPath: async (ctx: DataPathContext) => {
      if (opts.listenerPart) markListenerReady = ctx.readiness.register('listener:api').ready;
      return { statuses: () => [{ name: 'api', kind: 'inbound', address: '0.0.0.0:15006', connectionsActive: 0, connectionsTotal: 3, denied: 1 }], tunnelPools: () => [], meshTraffic: () => undefined, setPolicy: () => false, drain: async () => {}, close: async () => {} };
    },
  });
  const get = async (path: string, base = sidecar.adminAddress) => {
    const res = await fetch(`http://${base}${path}`);
    return { status: res.status, text: await res.text() };
  };
  return { clock, client, sidecar, get, markListenerReady: () => markListenerReady() };
}

describe('buildSidecar', () => {
  let running: RunningSidecar | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('is ready only with a valid SVID and every readiness part up', async () => {
    const t = await setup({ listenerPart: true, failWith: 'unavailable' });
    running = t.sidecar;
    await t.clock.advance(0);
    let r = await t.get('/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).pending).toEqual(['identity (initializing)', 'listener:api']);
    t.client.failWith = undefined;
    await t.clock.advance(1_200);
    r = await t.get('/readyz');
    expect(JSON.parse(r.text).pending).toEqual(['listener:api']);
    t.markListenerReady();
    r = await t.get('/readyz', t.sidecar.healthAddress);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ ready: true, pending: [] });
  });

  it('serves the docs/design.md /status shape, the listeners, /certs without a key, metrics and /rotate', async () => {
    const t = await setup();
    running = t.sidecar;
    await t.clock.advance(0);
    const s = JSON.parse((await t.get('/status')).text);
    expect(Object.keys(s.identity)).toEqual(expect.arrayContaining(['spiffeId', 'state', 'serial', 'notBefore', 'notAfter', 'refreshAt', 'rotations', 'consecutiveFailures', 'lastRotation', 'lastError']));
    expect(s.identity).toMatchObject({ state: 'available', rotations: 1, consecutiveFailures: 0, lastError: null, spiffeId: 'spiffe://cluster.local/ns/default/sa/web' });
    expect(s.trustBundle).toMatchObject({ trustDomain: 'cluster.local', sequence: 0, source: 'file' });
    expect(s.trustBundle.roots[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.ca).toMatchObject({ address: '127.0.0.1:1', reachable: true });
    expect(s.outageBudgetSeconds).toBeNull();
    expect(s.listeners).toEqual([{ name: 'api', kind: 'inbound', address: '0.0.0.0:15006', connectionsActive: 0, connectionsTotal: 3, denied: 1 }]);

    const certs = await t.get('/certs');
    expect(certs.text.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(certs.text).not.toContain('PRIVATE KEY');

    const rot = await fetch(`http://${t.sidecar.adminAddress}/rotate`, { method: 'POST' });
    expect(rot.status).toBe(200);
    expect((await fetch(`http://${t.sidecar.adminAddress}/rotate`)).status).toBe(405);

    t.client.failWith = 'unavailable';
    await fetch(`http://${t.sidecar.adminAddress}/rotate`, { method: 'POST' });
    const m = (await t.get('/metrics')).text;
    expect(m).toMatch(/^ztmesh_cert_rotations_total 2$/m);
    expect(m).toMatch(/^ztmesh_cert_rotation_failures_total\{code="unavailable"\} 1$/m);
    expect(m).toMatch(/^ztmesh_ca_reachable 0$/m);
    expect(m).toMatch(/^ztmesh_cert_expiry_timestamp_seconds \d+$/m);
    const after = JSON.parse((await t.get('/status')).text);
    expect(after.identity.state).toBe('unavailable');
    expect(after.outageBudgetSeconds).toBeGreaterThan(3500);
  });

  it('the health port serves only /healthz and /readyz', async () => {
    const t = await setup();
    running = t.sidecar;
    for (const p of ['/status', '/metrics', '/certs']) expect((await t.get(p, t.sidecar.healthAddress)).status).toBe(404);
    expect((await t.get('/healthz', t.sidecar.healthAddress)).status).toBe(200);
  });

  it('fails startup on a port conflict, naming the listener', async () => {
    const t = await setup();
    running = t.sidecar;
    await expect(setup({ admin: t.sidecar.adminAddress })).rejects.toMatchObject({ code: 'port_in_use', message: expect.stringContaining('admin') });
  });

  it('fails startup when the bootstrap bundle is unreadable', async () => {
    const config = loadSidecarConfig({ flags: { 'ca-bundle': '/nonexistent/roots.pem', admin: '127.0.0.1:0', health: '127.0.0.1:0' } });
    await expect(buildSidecar(config, { log: silentLogger() })).rejects.toMatchObject({ code: 'bundle_unreadable', message: expect.stringContaining('/nonexistent/roots.pem') });
  });

  it('shutdown() marks the sidecar not ready (draining) before closing', async () => {
    const t = await setup();
    await t.clock.advance(0);
    const done = t.sidecar.shutdown();
    await done;
    await expect(t.get('/readyz')).rejects.toThrow();
  });
});
