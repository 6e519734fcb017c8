// A transparent sidecar (in this process, its data path stubbed: no iptables here) against a real CA: it is not ready
// until the CA's first membership arrives over the mesh stream; it keeps that membership when the CA goes away; and
// restarted with identity.stateDir while the CA is still down, it is ready at once with the same membership.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { hostAddresses } from '../../src/identity/mesh-client.js';
import { buildSidecar, type RunningSidecar } from '../../src/sidecar/app.js';
import { loadSidecarConfig } from '../../src/sidecar/config.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { tempDir } from '../helpers/temp-dir.js';

const ID = 'spiffe://example.org/ns/default/sa/web';
let ca: TestCaServer | undefined;
const running: RunningSidecar[] = [];
afterAll(async () => {
  for (const s of running) await s.close();
  await ca?.stop();
});

async function sidecar(caAddress: string, bundlePem: string, token: string, stateDir: string): Promise<RunningSidecar> {
  const dir = tempDir('ztmesh-membership-sidecar-');
  writeFileSync(join(dir, 'roots.pem'), bundlePem);
  writeFileSync(join(dir, 'token'), token);
  const config = loadSidecarConfig({
    flags: {
      'trust-domain': 'example.org', 'ca-address': caAddress, 'ca-bundle': join(dir, 'roots.pem'), 'token-file': join(dir, 'token'), 'ca-server-name': 'localhost',
      'spiffe-id': ID, 'state-dir': stateDir, admin: '127.0.0.1:0', health: '127.0.0.1:0', transparent: true,
    },
  });
  const s = await buildSidecar(config, {
    log: silentLogger(),
    startDataPath: async () => ({ statuses: () => [], tunnelPools: () => [], meshTraffic: () => undefined, setPolicy: () => false, drain: async () => {}, close: async () => {} }),
  });
  running.push(s);
  return s;
}

const readyz = async (s: RunningSidecar) => {
  const res = await fetch(`http://${s.healthAddress}/readyz`);
  return { status: res.status, body: await res.json() as { ready: boolean; pending: string[] } };
};
async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a transparent sidecar and its membership', () => {
  it('is not ready before the first membership, keeps it through an outage and across a restart with stateDir', async () => {
    ca = await startCa({ args: ['--meshed-cidrs', '10.60.0.0/16'] });
    const stateDir = join(tempDir('ztmesh-state-'), 'web');
    const first = await sidecar(ca.address, ca.bundlePem, await ca.mintToken(ID), stateDir);
    // Before the SVID there is no mesh stream: not ready, and membership is named as what it waits for.
    const early = await readyz(first);
    expect(early.status).toBe(503);
    expect(early.body.pending).toContain('mesh-membership');
    const ready = await until(() => readyz(first), (r) => r.status === 200);
    expect(ready.body.pending).toEqual([]);
    const st = first.status();
    expect(st.ca.bundleStream).toMatchObject({ connected: true, protocol: 'mesh' });
    // The static CIDR, and the addresses this sidecar announced for itself (transparent mode outside Kubernetes).
    const entries = 1 + hostAddresses().length;
    expect(st.mesh?.membership).toMatchObject({ state: 'known', source: 'ca', entries });
    expect(st.mesh?.kinds).toHaveProperty('membership');
    expect(st.mesh?.kinds).toHaveProperty('trust-bundle');
    const version = st.mesh!.membership!.version;

    // The CA goes away: the membership stays in force.
    await ca.stop();
    await until(async () => first.status(), (s) => !s.ca.bundleStream.connected);
    expect(first.status().mesh?.membership).toMatchObject({ state: 'known', version, entries });
    expect((await readyz(first)).status).toBe(200);
    await first.close();
    running.length = 0;

    // Restarted while the CA is still down: ready from the state directory.
    const again = await sidecar(ca.address, ca.bundlePem, 'used-token', stateDir);
    const back = await until(() => readyz(again), (r) => r.status === 200);
    expect(back.body.pending).toEqual([]);
    expect(again.status().mesh?.membership).toMatchObject({ state: 'known', source: 'state-dir', version, entries });
  });
});
