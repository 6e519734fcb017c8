// Tunnel scenarios over real processes: a test CA, an `api` sidecar (inbound, from a config file the test may rewrite
// and reload with SIGHUP) in front of an in-process app, and a `web` sidecar (outbound to api), plus checksummed
// app connections and a raw mTLS client certificate from the same CA.
//
//   const t = await startTunnelPair({ app });            // app: tcpServer/echoApp from ./datapath.js
//   const r = await t.roundTrip(bytes);                  // through web → tunnel → api → app and back
//   await t.setAllow([OTHER]);                           // rewrites api's config and sends SIGHUP
//   (await t.web.status()).tunnelPools                   // pools as /status shows them
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import { stringify } from 'yaml';
import { chainPem, makeCsr, signCsr, startCa, type TestCaServer } from './ca.js';
import { connect, echoApp, portOf, readAll } from './datapath.js';
import { startSidecar, WEB_ID, type TestSidecar } from './sidecar.js';
import { suiteFixture } from './suite-fixture.js';
import { tempDir } from './temp-dir.js';

export { WEB_ID };
export const API_ID = 'spiffe://example.org/ns/default/sa/api';

export interface TunnelPair {
  ca: TestCaServer;
  web: TestSidecar;
  api: TestSidecar;
  /** web's outbound listener (the app's entry) and api's inbound port. */
  webPort: number;
  apiPort: number;
  /** Rewrites api's inbound allow list and reloads it (SIGHUP); resolves once api logged the reload. */
  setAllow(allow: string[]): Promise<void>;
  /** Restarts api on the same port after `kill` (SIGKILL by default), with a fresh join token. */
  restartApi(): Promise<void>;
  close(): Promise<void>;
}

export interface TunnelPairOptions {
  app: { port: number };
  allow?: string[];
  /** More keys of web's outbound entry (tunnel, idleTimeout...). */
  outbound?: Record<string, unknown>;
  /** More keys of api's inbound entry. */
  inbound?: Record<string, unknown>;
  /** More top-level keys of api's configuration file (e.g. `authz`). */
  apiConfig?: Record<string, unknown>;
  ca?: TestCaServer;
}

/** Starts a CA (unless given), api (inbound → app) and web (outbound → api), and waits until both are ready. */
export async function startTunnelPair(opts: TunnelPairOptions): Promise<TunnelPair> {
  const ca = opts.ca ?? (await startCa());
  let api = await startApi(ca, opts, 0);
  const apiPort = portOf((await api.sc.waitForStatus((s) => s.listeners.length === 1)).listeners[0]!.address);
  api.sc.proc.lines.length = 0;
  const outbound = [{ name: 'to-api', listen: '127.0.0.1:0', upstream: `127.0.0.1:${apiPort}`, expect: API_ID, ...opts.outbound }];
  const web = await startSidecar({ ca, args: ['--outbound', JSON.stringify(outbound), '--log-level', 'debug'] });
  const webStatus = await web.waitForStatus((s) => s.identity.state === 'available' && s.listeners.length === 1);
  // Ready, not only available: api serves no inbound connection before its first policy set (no_policy).
  await api.sc.waitForStatus((s) => s.identity.state === 'available' && s.authz?.state !== 'awaiting');
  return {
    ca, web, get api() { return api.sc; }, webPort: portOf(webStatus.listeners[0]!.address), apiPort,
    async setAllow(allow) {
      api.write({ allow });
      const reloads = () => api.sc.proc.lines.filter((l) => l.includes('inbound policy reloaded')).length;
      const before = reloads();
      api.sc.proc.child.kill('SIGHUP');
      const until = Date.now() + 10_000;
      while (reloads() === before) {
        if (Date.now() > until) throw new Error(`api did not reload its policy:\n${api.sc.proc.lines.slice(-10).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async restartApi() {
      await api.sc.stop();
      api = await startApi(ca, opts, apiPort);
      await api.sc.waitForStatus((s) => s.identity.state === 'available' && s.listeners.length === 1 && s.authz?.state !== 'awaiting');
    },
    async close() {
      await Promise.all([web.stop(), api.sc.stop()]);
      if (!opts.ca) await ca.stop();
    },
  };
}

/**
 * For the test file that calls it: an echo app and a tunnel pair in front of it, started in beforeAll and closed in
 * afterAll. The returned pair stands for the started one (its properties are read from it when used).
 */
export function echoTunnelPairForSuite(opts: Omit<TunnelPairOptions, 'app'> = {}): TunnelPair {
  return suiteFixture('tunnel pair', async () => {
    const app = await echoApp();
    const pair = await startTunnelPair({ ...opts, app });
    const stop = pair.close;
    return Object.assign(pair, { async close() { await stop(); await app.close(); } });
  }, (pair) => pair.close());
}

/** api: its inbound entry lives in a config file, so that a SIGHUP reads the allow list again. */
async function startApi(ca: TestCaServer, opts: TunnelPairOptions, port: number) {
  const file = join(tempDir('ztmesh-api-'), 'api.yaml');
  let entry: Record<string, unknown> = {
    name: 'app', listen: `127.0.0.1:${port}`, forward: `127.0.0.1:${opts.app.port}`, allow: opts.allow ?? [WEB_ID], ...opts.inbound,
  };
  const write = (change: Record<string, unknown>) => {
    entry = { ...entry, ...change };
    writeFileSync(file, stringify({ ...opts.apiConfig, inbound: [entry] }));
  };
  write({});
  const sc = await startSidecar({ ca, spiffeId: API_ID, args: ['--config', file, '--log-level', 'debug'] });
  return { sc, write };
}

/** Sends `bytes`, half-closes, and reads the echo to EOF; the sha256 of both sides. */
export async function echoRoundTrip(port: number, bytes: Buffer): Promise<{ sent: string; received: string; error?: string }> {
  let s: net.Socket;
  try {
    s = await connect(port);
  } catch (err) {
    // Reset before our side saw the connect (a refusal that fast): the same outcome for the app as a reset after it.
    return { sent: sha256(bytes), received: sha256(Buffer.alloc(0)), error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  const reply = readAll(s);
  s.end(bytes);
  const { data, error } = await reply;
  return { sent: sha256(bytes), received: sha256(data), ...(error ? { error: error.code ?? error.message } : {}) };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `n` random bytes. */
export function payload(n: number): Buffer {
  return randomBytes(n);
}

/** A client certificate and key for `spiffeId` from the test CA (a join token, then a CSR), written as PEM files. */
export async function clientCert(ca: TestCaServer, spiffeId: string, dir: string): Promise<{ cert: string; key: string; certPem: string; keyPem: string }> {
  const { keyPem, csr } = makeCsr(spiffeId);
  const res = await signCsr(ca.client(), csr, { token: await ca.mintToken(spiffeId) });
  const certPem = chainPem(res);
  const cert = join(dir, `${spiffeId.split('/').pop()}.pem`);
  const key = join(dir, `${spiffeId.split('/').pop()}.key`);
  writeFileSync(cert, certPem);
  writeFileSync(key, keyPem, { mode: 0o600 });
  return { cert, key, certPem, keyPem };
}
