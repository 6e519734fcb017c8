// A CA that is reached but refuses is reported as such, not as "unreachable": the log line and `ztmesh status`
// say "CA reached, refused: <the CA's code>", and the sidecar keeps retrying with backoff. Only a configuration that
// contradicts itself (a trust domain the bundle's roots are not for) stops it, at start, with a clear message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';

describe('sidecar refused by a CA it reached', () => {
  let ca: TestCaServer;
  let sc: TestSidecar;
  beforeAll(async () => {
    ca = await startCa();
    // The token grants web; the sidecar insists on api: the CA refuses the CSR (identity_mismatch).
    sc = await startSidecar({ ca, args: ['--spiffe-id', 'spiffe://example.org/ns/default/sa/api'] });
  });
  afterAll(async () => {
    await sc?.stop();
    await ca?.stop();
  });

  it('says "CA reached, refused: identity_mismatch" in the log and in status, and keeps retrying', async () => {
    const s = await sc.waitForStatus((x) => x.identity.consecutiveFailures >= 2, 15_000);
    expect(s.identity.state).toBe('initializing');
    expect(s.ca).toMatchObject({ reachable: true, refusal: { code: 'identity_mismatch' } });
    expect(s.ca.refusal!.message).toContain('CSR asks for spiffe://example.org/ns/default/sa/api');
    expect(Date.parse(s.identity.refreshAt!)).toBeGreaterThan(Date.now()); // a backoff retry is scheduled
    const line = JSON.parse(await sc.proc.waitFor(/"event":"rotation_failed"/));
    expect(line).toMatchObject({ code: 'permission_denied', caReached: true, caCode: 'identity_mismatch', msg: 'certificate rotation failed: CA reached, refused: identity_mismatch' });
    expect(String(line.err)).not.toMatch(/No connection established|Resolution note/);
    const r = await runCli(['status', '--admin', sc.admin]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^CA\s+127\.0\.0\.1:\d+ reached, refused: identity_mismatch: /m);
    expect(r.stdout).not.toContain('UNREACHABLE');
    expect(sc.proc.child.exitCode).toBeNull();
  });

  it('a CA whose certificate does not chain to the bundle is "CA reached, not trusted", not unreachable', async () => {
    const foreign = await startSidecar({ ca, bundlePem: await startCaBundle() });
    try {
      const s = await foreign.waitForStatus((x) => x.identity.lastError !== null);
      expect(s.identity.lastError!.code).toBe('ca_untrusted');
      expect(s.ca).toMatchObject({ reachable: true, refusal: { code: 'ca_untrusted' } });
      const line = JSON.parse(await foreign.proc.waitFor(/"event":"rotation_failed"/));
      expect(line.msg).toBe('certificate rotation failed: CA reached, not trusted: ca_untrusted');
      const r = await runCli(['status', '--admin', foreign.admin]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^CA\s+127\.0\.0\.1:\d+ reached, not trusted: CA 127\.0\.0\.1:\d+: self-signed certificate in certificate chain \(ca_untrusted, /m);
      expect(r.stdout).not.toMatch(/UNREACHABLE|never contacted/);
    } finally {
      await foreign.stop();
    }
  });

  it('a trust domain that the bundle contradicts stops the sidecar at start, naming both', async () => {
    const bad = startSidecar({ ca, trustDomain: 'other.org' });
    const started = await bad.catch(() => undefined);
    await started?.stop(); // it must not have started; if it did, do not leave it running
    await expect(bad).rejects.toThrow(/exited.*1/);
    const err = await bad.catch((e: Error) => e.message);
    expect(err).toContain('ztmesh sidecar: trustDomain "other.org" does not match ca.bundle');
    expect(err).toContain('whose roots are for "example.org"');
    expect(err).toContain('(trust_domain_mismatch)');
  });
});

describe('sidecar whose CA does not answer', () => {
  it('reports the connection failure without grpc-js noise', async () => {
    const sc = await startSidecar({ caAddress: '127.0.0.1:9', bundlePem: (await startCaBundle()), token: 'unused' });
    try {
      const s = await sc.waitForStatus((x) => x.identity.lastError !== null);
      expect(s.identity.lastError!.message).toMatch(/^CA 127\.0\.0\.1:9: connect ECONNREFUSED 127\.0\.0\.1:9$/);
      expect(s.ca.refusal).toBeNull();
    } finally {
      await sc.stop();
    }
  });
});

async function startCaBundle(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { initCa } = await import('../helpers/ca.js');
  return readFile(join(await initCa(), 'bundle.pem'), 'utf8');
}
