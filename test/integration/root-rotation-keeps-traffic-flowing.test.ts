// The whole root rotation with real processes: a CA, two sidecars (web → api) and an app. One long stream runs
// through `ca root prepare`, `activate` and `retire` while a new connection is made every 100 ms: none fails and no
// byte is lost. After activate, fresh SVIDs chain to the new root (openssl); `retire` without --force refuses while
// old-root SVIDs may be valid; after retire the old root is gone from both sidecars' /status.
import { createHash, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { connect, echoApp, portOf } from '../helpers/datapath.js';
import { OPENSSL_MISSING } from '../helpers/openssl.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { fromPemAll, toPem } from '../../src/pki/index.js';
import { certFingerprint } from '../../src/pki/fingerprint.js';
import { tempDir } from '../helpers/temp-dir.js';

const API_ID = 'spiffe://example.org/ns/default/sa/api';
const WEB_ID = 'spiffe://example.org/ns/default/sa/web';
/** SVIDs live 5 s: old-root SVIDs are gone a few seconds after activate, and the test stays short. */
const MAX_TTL = '5s';

const tmp = tempDir('ztmesh-rotation-');
const auditLog = join(tmp, 'audit.log');
let ca: TestCaServer;
let api: TestSidecar;
let web: TestSidecar;
let app: Awaited<ReturnType<typeof echoApp>>;
let outboundPort: number;

const listening = async (sc: TestSidecar) => portOf((JSON.parse(await sc.proc.waitFor(/"msg":"listening"/)) as { address: string }).address);
const rootsOf = async (sc: TestSidecar) => (await sc.status()).trustBundle!.roots.map((r) => r.sha256);

beforeAll(async () => {
  app = await echoApp();
  ca = await startCa({ args: ['--min-ttl', '1s', '--max-ttl', MAX_TTL, '--default-ttl', MAX_TTL, '--rate-limit', '0', '--audit-log', auditLog] });
  const inbound = [{ name: 'app', listen: '127.0.0.1:0', forward: `127.0.0.1:${app.port}`, allow: [WEB_ID] }];
  api = await startSidecar({ ca, spiffeId: API_ID, ttl: MAX_TTL, args: ['--inbound', JSON.stringify(inbound)] });
  const outbound = [{ name: 'api', listen: '127.0.0.1:0', upstream: `127.0.0.1:${await listening(api)}`, expect: API_ID }];
  web = await startSidecar({ ca, spiffeId: WEB_ID, ttl: MAX_TTL, args: ['--outbound', JSON.stringify(outbound)] });
  outboundPort = await listening(web);
  for (const sc of [api, web]) await sc.waitForStatus((s) => s.identity.state === 'available' && s.trustBundle?.source === 'ca');
}, 60_000);

afterAll(async () => {
  await web?.stop();
  await api?.stop();
  await ca?.stop();
  await app?.close();
});

/** One long stream through web → api → app: sends numbered chunks and checks that every byte comes back. */
function longStream(s: net.Socket) {
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let sentBytes = 0;
  let gotBytes = 0;
  const errors: Error[] = [];
  s.on('data', (d: Buffer) => { got.update(d); gotBytes += d.length; });
  s.on('error', (e) => errors.push(e));
  let n = 0;
  const timer = setInterval(() => {
    const chunk = Buffer.alloc(16 * 1024, n++ % 251);
    sent.update(chunk);
    sentBytes += chunk.length;
    s.write(chunk);
  }, 50);
  return {
    async finish() {
      clearInterval(timer);
      const until = Date.now() + 10_000;
      while (gotBytes < sentBytes && Date.now() < until && !errors.length) await new Promise((r) => setTimeout(r, 20));
      s.end();
      return { sentBytes, gotBytes, same: sent.digest('hex') === got.digest('hex'), errors };
    },
  };
}

/** A new connection every 100 ms, each echoing its own message; counts what failed. */
function connectionLoop() {
  let ok = 0;
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const one = async (i: number) => {
    const msg = `ping ${i}`;
    try {
      const s = await connect(outboundPort);
      const echoed = await new Promise<string>((resolve, reject) => {
        let buf = '';
        s.on('data', (d: Buffer) => { buf += d.toString(); if (buf.length >= msg.length) resolve(buf); });
        s.on('error', reject);
        s.on('close', () => resolve(buf));
        setTimeout(() => reject(new Error('no echo within 5 s')), 5_000);
        s.write(msg);
      });
      s.destroy();
      if (echoed === msg) ok++;
      else failures.push(`${msg}: got ${JSON.stringify(echoed)}`);
    } catch (e) {
      failures.push(`${msg}: ${(e as Error).message}`);
    }
  };
  let i = 0;
  const timer = setInterval(() => {
    const p = one(i++).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 100);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return { ok, failures };
    },
  };
}

/** The leaf and the rest of the chain a sidecar presents (GET /certs). */
async function presented(sc: TestSidecar): Promise<{ leaf: Buffer; rest: Buffer[] }> {
  const text = (await sc.get('/certs')).text;
  const chain = fromPemAll(text.slice(0, text.indexOf('# trust bundle')));
  return { leaf: chain[0]!, rest: chain.slice(1) };
}

function opensslVerify(caFile: string, leaf: Buffer, untrusted: Buffer[] = []): boolean {
  const leafFile = join(tmp, `leaf-${certFingerprint(leaf).slice(0, 8)}.pem`);
  writeFileSync(leafFile, toPem(leaf));
  const args = ['verify', '-CAfile', caFile];
  if (untrusted.length) {
    const u = join(tmp, 'untrusted.pem');
    writeFileSync(u, untrusted.map((d) => toPem(d)).join(''));
    args.push('-untrusted', u);
  }
  return spawnSync('openssl', [...args, leafFile], { encoding: 'utf8' }).status === 0;
}

describe.skipIf(OPENSSL_MISSING)('root rotation keeps traffic flowing', () => {
  it('prepare → activate → retire with a long stream and a new connection every 100 ms: nothing fails, nothing is lost', async () => {
    const r1 = fromPemAll(ca.bundlePem)[0]!;
    const r1File = join(tmp, 'r1.pem');
    writeFileSync(r1File, toPem(r1));
    const stream = longStream(await connect(outboundPort));
    const loop = connectionLoop();

    // prepare: the CA keeps signing with r1; both sidecars take r2, vouched for by r1.
    const prep = await runCli(['ca', 'root', 'prepare', '--dir', ca.dir]);
    expect(prep.code, prep.stderr).toBe(0);
    const r2 = fromPemAll(readFileSync(join(ca.dir, 'next.pem'), 'utf8'))[0]!;
    const r2File = join(tmp, 'r2.pem');
    writeFileSync(r2File, toPem(r2));
    const both = [certFingerprint(r1), certFingerprint(r2)];
    for (const sc of [api, web]) await sc.waitForStatus((s) => s.trustBundle!.roots.length === 2);
    for (const sc of [api, web]) expect(await rootsOf(sc)).toEqual(both);

    // activate: new SVIDs chain to r2 (not to r1 without the cross-certificate that bridges them).
    const act = await runCli(['ca', 'root', 'activate', '--dir', ca.dir, '--max-ttl', MAX_TTL]);
    expect(act.code, act.stderr).toBe(0);
    expect(act.stdout).toMatch(/every SVID issued under the old root will have expired by \d{4}-\d\d-\d\dT[\d:.]+Z \(max-ttl 5s from now\)/);
    await ca.process.waitFor(/signing certificate switched/);
    for (const sc of [api, web]) {
      expect((await sc.rotate()).status).toBe(200);
      const { leaf, rest } = await presented(sc);
      expect(new X509Certificate(leaf).verify(new X509Certificate(r2).publicKey)).toBe(true);
      expect(opensslVerify(r2File, leaf)).toBe(true);
      expect(opensslVerify(r1File, leaf)).toBe(false);
      expect(opensslVerify(r1File, leaf, rest)).toBe(true); // the bridge, for peers that still trust only r1
    }

    // retire: refused while SVIDs issued under r1 may still be valid, according to the issuance log.
    const early = await runCli(['ca', 'root', 'retire', '--dir', ca.dir, '--audit-log', auditLog]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/SVIDs issued under the old root may still be valid until .*\(old_root_svids_valid\)/);
    expect(await rootsOf(api)).toEqual(both);
    let retired = early;
    for (let i = 0; i < 40 && retired.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      retired = await runCli(['ca', 'root', 'retire', '--dir', ca.dir, '--audit-log', auditLog]);
    }
    expect(retired.code, retired.stderr).toBe(0);
    for (const sc of [api, web]) await sc.waitForStatus((s) => s.trustBundle!.roots.length === 1);
    for (const sc of [api, web]) expect(await rootsOf(sc)).toEqual([certFingerprint(r2)]);

    // Traffic keeps flowing under the new root alone.
    await new Promise((r) => setTimeout(r, 1_000));
    const conns = await loop.stop();
    const s = await stream.finish();
    expect(conns.failures).toEqual([]);
    expect(conns.ok).toBeGreaterThan(40);
    expect(s.errors).toEqual([]);
    expect(s.gotBytes).toBe(s.sentBytes);
    expect(s.same).toBe(true);
    for (const sc of [api, web]) expect((await sc.status()).trustBundle!.lastRefusal).toBeNull();
    // The log the retire check read is intact.
    const verified = await runCli(['ca', 'audit', 'verify', auditLog]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/chain intact/);
  }, 90_000);
});
