// A peer that forces TLS 1.2 — with an otherwise valid certificate — is refused (tls_version).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLeaf, WEB } from '../helpers/datapath.js';
import { inboundScenario } from '../helpers/inbound-scenario.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';

describe.skipIf(OPENSSL_MISSING)('inbound refuses TLS 1.2', () => {
  let sc: Awaited<ReturnType<typeof inboundScenario>>;
  beforeAll(async () => { sc = await inboundScenario(); });
  afterAll(async () => { await sc.close(); });

  it('refuses with tls_version', async () => {
    const cert = sc.pem.leaf(makeLeaf(sc.mesh.ca, WEB), 'web');
    const r = await sClient({ port: sc.port, caFile: sc.caFile, cert, args: ['-tls1_2'] });
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain('pong');
    expect(r.stderr).toMatch(/protocol version/);
    const line = await sc.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', reason: 'tls_version' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await sc.failures('tls_version')).toBe(1);
    // The same certificate over TLS 1.3 is served: the refusal was about the version only.
    const ok = await sClient({ port: sc.port, caFile: sc.caFile, cert, input: 'v13\n' });
    expect(ok.stdout).toContain('pong:v13');
    await sc.assertKeepsServing();
  });
});
