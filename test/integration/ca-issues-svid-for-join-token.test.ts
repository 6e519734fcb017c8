// ca init, ca serve and ca token create as real processes; a gRPC client gets a CSR signed over TLS.
// The chain passes `openssl verify`, and `openssl x509 -text` shows the SVID profile with the clamped TTL.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { chainPem, initCa, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { tempDir } from '../helpers/temp-dir.js';

const TD = 'example.org';
const ID = `spiffe://${TD}/ns/default/sa/web`;
let ca: TestCaServer;
const tmp = tempDir('ztmesh-ca-issue-');

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

beforeAll(async () => {
  const dir = await initCa(TD);
  expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
  ca = await startCa({ dir, trustDomain: TD, args: ['--min-ttl', '120s', '--max-ttl', '2h'] });
});
afterAll(async () => {
  expect(await ca.stop()).toBe(0);
});

async function tokenFromCli(ttl = '10m'): Promise<string> {
  const r = await runCli(['ca', 'token', 'create', '--dir', ca.dir, '--spiffe-id', ID, '--ttl', ttl]);
  expect(r.code).toBe(0);
  const token = r.stdout.trim();
  expect(token).toMatch(/^ztjt_[A-Za-z0-9_-]{43}$/);
  return token;
}

describe('ztmesh ca issues an SVID for a join token', () => {
  it('signs a CSR; openssl verifies the chain and shows one URI SAN, CA:FALSE, both EKUs and the requested TTL', async () => {
    const token = await tokenFromCli();
    const { csr } = makeCsr(ID);
    const res = await signCsr(ca.client(), csr, { token, ttlSeconds: 600 });
    expect(res.certChain).toHaveLength(1);
    expect(res.trustBundle?.trustDomain).toBe(TD);
    expect(res.trustBundle?.roots).toHaveLength(1);

    const leafFile = join(tmp, 'leaf.pem');
    writeFileSync(leafFile, chainPem(res));
    expect(openssl(['verify', '-CAfile', join(ca.dir, 'bundle.pem'), leafFile])).toContain(': OK');
    const text = openssl(['x509', '-in', leafFile, '-noout', '-text']);
    expect(text.match(/URI:/g)).toHaveLength(1);
    expect(text).toContain(`URI:${ID}`);
    expect(text).toContain('CA:FALSE');
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/Digital Signature/);

    const leaf = new X509Certificate(res.certChain[0]!);
    const ttl = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    expect(ttl).toBe(600_000 + 60_000); // requested TTL plus the 60 s notBefore backdate

    const parsed = new x509.X509Certificate(res.certChain[0]!);
    const san = parsed.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => `${n.type}:${n.value}`)).toEqual([`url:${ID}`]);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
  });

  it('clamps a TTL below --min-ttl up and above --max-ttl down; 0 gets the default', async () => {
    const cases: [number, number][] = [[5, 120_000], [100_000, 7_200_000], [0, 3_600_000]];
    for (const [asked, expected] of cases) {
      const { csr } = makeCsr(ID);
      const res = await signCsr(ca.client(), csr, { token: await ca.mintToken(ID), ttlSeconds: asked });
      const leaf = new X509Certificate(res.certChain[0]!);
      expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom) - 60_000, `ttl_seconds=${asked}`).toBe(expected);
    }
  });

  it('writes an audit line per issuance with ID, serial, method and peer, and never the token', async () => {
    const token = await tokenFromCli();
    const res = await signCsr(ca.client(), makeCsr(ID).csr, { token });
    const serial = new X509Certificate(res.certChain[0]!).serialNumber.toLowerCase();
    const line = JSON.parse(await ca.process.waitFor(new RegExp(`"serial":"${serial}"`)));
    expect(line).toMatchObject({ component: 'audit', spiffeId: ID, method: 'join_token', msg: 'issued' });
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    expect(ca.process.output()).not.toContain(token);
  });

  it('exposes /healthz, /readyz and the signing metrics on the admin address', async () => {
    const base = `http://${ca.adminAddress}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/ztmesh_ca_sign_total\{result="ok"\} \d+/);
    expect(metrics).toContain('ztmesh_ca_sign_duration_seconds_bucket');
    expect(metrics).not.toContain('ztjt_');
  });
});
