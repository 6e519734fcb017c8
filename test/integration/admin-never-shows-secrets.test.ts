// Nothing a sidecar serves or logs contains a private key or its token: /status, /certs, /metrics, /readyz,
// POST /rotate and every log line are grepped, after issuance, a forced rotation and a failed one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

describe('admin never shows secrets', () => {
  let ca: TestCaServer;
  let sc: TestSidecar;
  beforeAll(async () => {
    ca = await startCa();
    sc = await startSidecar({ ca, args: ['--log-level', 'debug'] });
  });
  afterAll(async () => {
    await sc?.stop();
    await ca?.stop();
  });

  it('keeps keys and tokens out of every output', async () => {
    await sc.waitForStatus((s) => s.identity.state === 'available');
    const outputs: string[] = [];
    outputs.push(JSON.stringify((await sc.rotate()).body));
    await ca.stop();
    outputs.push(JSON.stringify((await sc.rotate()).body));
    for (const path of ['/status', '/certs', '/metrics', '/readyz', '/healthz']) outputs.push((await sc.get(path)).text);
    const certs = (await sc.get('/certs')).text;
    expect(certs).toContain('-----BEGIN CERTIFICATE-----');
    // SIGTERM drains and exits 0; the shutdown lines are grepped too.
    expect(await sc.stop()).toBe(0);
    outputs.push(sc.proc.output());
    const all = outputs.join('\n');
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain(sc.token);
    expect(all).not.toMatch(/Bearer /);
    expect(sc.token.length).toBeGreaterThan(16);
  });
});
