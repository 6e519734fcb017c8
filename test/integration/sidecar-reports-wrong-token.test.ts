// A sidecar with a token the CA does not know reports the CA's refusal code in /status lastError and in its log
// (naming the CA), stays not ready, and never writes the token anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

const WRONG = 'ztjt-wrong-token-0123456789abcdef';

describe('sidecar with a wrong token', () => {
  let ca: TestCaServer;
  let sc: TestSidecar;
  beforeAll(async () => {
    ca = await startCa();
    sc = await startSidecar({ ca, token: WRONG });
  });
  afterAll(async () => {
    await sc?.stop();
    await ca?.stop();
  });

  it('reports unauthenticated from the CA', async () => {
    const s = await sc.waitForStatus((x) => x.identity.lastError !== null);
    expect(s.identity.state).toBe('initializing');
    expect(s.identity.lastError?.code).toBe('unauthenticated');
    // The CA answered: it is reachable, it refused.
    expect(s.ca.reachable).toBe(true);
    expect((await sc.readyz()).status).toBe(503);
    const line = await sc.proc.waitFor(/"event":"rotation_failed"/);
    expect(JSON.parse(line)).toMatchObject({ code: 'unauthenticated', ca: ca.address, level: 'warn' });
    const metrics = (await sc.get('/metrics')).text;
    expect(metrics).toMatch(/ztmesh_cert_rotation_failures_total\{code="unauthenticated"\} [1-9]/);
    expect(metrics).toMatch(/ztmesh_cert_rotations_total 0/);
    for (const text of [sc.proc.output(), JSON.stringify(s), metrics]) expect(text).not.toContain(WRONG);
  });
});
