// sslscan, a foreign TLS scanner, finds only TLS 1.3 (and only TLS 1.3 suites) on the CA's gRPC port; our own
// client still renews over it.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca?.stop(); });

function sslscan(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sslscan', ['--no-colour', '--no-heartbleed', address], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

describe('the CA port offers TLS 1.3 only', () => {
  it('sslscan shows TLSv1.3 enabled, every older protocol disabled and only TLS 1.3 suites', async () => {
    const out = await sslscan(ca.address);
    const protocols = Object.fromEntries([...out.matchAll(/^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)$/gm)].map((m) => [m[1], m[2]]));
    expect(protocols).toEqual({ SSLv2: 'disabled', SSLv3: 'disabled', 'TLSv1.0': 'disabled', 'TLSv1.1': 'disabled', 'TLSv1.2': 'disabled', 'TLSv1.3': 'enabled' });
    const suites = [...out.matchAll(/^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(suites.length).toBeGreaterThan(0);
    for (const s of suites) expect(s).toMatch(/^TLSv1\.3 TLS_/);
    await expectStillServing(ca);
  });
});
