// The fleet view: a CA (in this process, on a fake clock) issues to one ID by join token, to another by join token and
// then by its SVID (renewal), and to a third with a short lifetime. `ztmesh ca status` (a real process reading the
// CA's GET /identities) lists all three with their method, serial and peer; once the clock passes the third one's
// half-life without a renewal it is marked OVERDUE, listed first, and the command exits 1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCaServer, type RunningCa } from '../../src/ca/build.js';
import { parseServeConfig } from '../../src/ca/config.js';
import { initCaDir } from '../../src/ca/state-dir.js';
import { JoinTokenStore } from '../../src/ca/attestors/join-tokens.js';
import { silentLogger } from '../../src/common/logger.js';
import { caClient, chainPem, makeCsr, signCsr, type CertificateAuthorityClient } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { tempDir } from '../helpers/temp-dir.js';

const TOKEN_ID = 'spiffe://example.org/ns/shop/sa/web';
const RENEWED_ID = 'spiffe://example.org/ns/shop/sa/api';
const SHORT_ID = 'spiffe://example.org/ns/shop/sa/batch';
const dir = join(tempDir('ztmesh-ca-status-'), 'ca');
// Real time, so real TLS accepts the certificates; only the fake clock moves past the short one's half-life.
const clock = new FakeClock(Date.now());
let ca: RunningCa;
const clients: CertificateAuthorityClient[] = [];
const serials: Record<string, string> = {};

async function issue(id: string, opts: { ttlSeconds: number; cert?: { cert: string; key: string } }): Promise<{ certPem: string; keyPem: string }> {
  const bundlePem = readFileSync(join(dir, 'bundle.pem'), 'utf8');
  const client = caClient(`127.0.0.1:${ca.grpcPort}`, bundlePem, opts.cert ?? {});
  clients.push(client);
  const { csr, keyPem } = makeCsr(id);
  const token = opts.cert ? undefined : (await new JoinTokenStore(dir).create(id, 3_600_000, clock.now())).token;
  const res = await signCsr(client, csr, { ttlSeconds: opts.ttlSeconds, ...(token ? { token } : {}) });
  const certPem = chainPem(res);
  serials[id] = new X509Certificate(certPem).serialNumber.toLowerCase();
  return { certPem, keyPem };
}

beforeAll(async () => {
  await initCaDir(dir, 'example.org', clock.now());
  ca = await buildCaServer(parseServeConfig({ dir, listen: '127.0.0.1:0', admin: '127.0.0.1:0', minTtl: '1s', signWorkers: '0', drain: '1s' }), {
    log: silentLogger(), clock, replica: 'ztmesh-ca-0',
  });
  await issue(TOKEN_ID, { ttlSeconds: 3600 });
  const first = await issue(RENEWED_ID, { ttlSeconds: 3600 });
  await issue(RENEWED_ID, { ttlSeconds: 3600, cert: { cert: first.certPem, key: first.keyPem } });
  await issue(SHORT_ID, { ttlSeconds: 60 });
});
afterAll(async () => {
  for (const c of clients) (c as unknown as { close(): void }).close();
  await ca?.close();
});

const status = (...args: string[]) => runCli(['ca', 'status', '--admin', `127.0.0.1:${ca.adminPort}`, ...args]);

describe('ztmesh ca status', () => {
  it('lists the ID issued by join token and the one renewed by SVID, with serial, method and peer; exit 0 while none is overdue', async () => {
    const r = await status('--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ scope: 'replica', replica: 'ztmesh-ca-0', windowSeconds: 86_400, limit: 10_000, tracked: 3, evicted: 0 });
    const byId = Object.fromEntries(report.identities.map((i: { spiffeId: string }) => [i.spiffeId, i]));
    expect(byId[TOKEN_ID]).toMatchObject({ state: 'ok', method: 'join_token', serial: serials[TOKEN_ID], issuancesLastHour: 1, peer: expect.stringMatching(/^(ipv4:)?127\.0\.0\.1:\d+$/) });
    expect(byId[RENEWED_ID]).toMatchObject({ state: 'ok', method: 'renewal', serial: serials[RENEWED_ID], issuancesLastHour: 2 });
    expect(byId[SHORT_ID]).toMatchObject({ state: 'ok', method: 'join_token' });

    const text = await status();
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("This is one replica's view");
    expect(text.stdout).toMatch(/At most 10000 IDs are tracked/);
    expect(text.stdout).toMatch(new RegExp(`ok\\s+${RENEWED_ID}\\s+renewal\\s+${serials[RENEWED_ID]!.slice(0, 16)}`));
  });

  it('marks an ID past its half-life without a renewal OVERDUE, lists it first and exits 1', async () => {
    await clock.advance(34_000); // 60 s certificate: a sidecar renews by 55% (33 s)
    const r = await status();
    expect(r.code).toBe(1);
    const rows = r.stdout.split('\n').filter((l) => /spiffe:\/\//.test(l) && !l.startsWith('CA replica'));
    expect(rows[0]).toMatch(new RegExp(`^OVERDUE\\s+${SHORT_ID}\\s+join_token`));
    expect(rows.slice(1).every((l) => l.startsWith('ok'))).toBe(true);
    expect(r.stdout).toMatch(/3 SPIFFE IDs issued in the last 1d, 1 overdue/);
  });

  it('exits 2 with one line when the admin cannot be read', async () => {
    const free = net.createServer();
    const port = await new Promise<number>((r) => free.listen(0, '127.0.0.1', () => r((free.address() as net.AddressInfo).port)));
    await new Promise((r) => free.close(r));
    const r = await runCli(['ca', 'status', '--admin', `127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ztmesh ca status: cannot reach the CA admin at http://127.0.0.1:${port}: ECONNREFUSED (admin_unreachable)\n`);
  });
});
