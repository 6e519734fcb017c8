// CA test helper: a real `ztmesh ca` process in a temp dir, join tokens, CSRs and real gRPC/TLS clients.
//
// Usage (integration tests; needs the built CLI: `npx tsc -p tsconfig.json`, which `npm test` does in pretest):
//   const ca = await startCa({ trustDomain: 'example.org', args: ['--min-ttl', '1s'] });   // init + serve, ports 0
//   const token = await ca.mintToken('spiffe://example.org/ns/default/sa/web');          // in-process, fast
//   const { key, csr } = makeCsr('spiffe://example.org/ns/default/sa/web');
//   const res = await signCsr(ca.client(), csr, { token, ttlSeconds: 600 });              // throws grpc ServiceError
//   const err = await signError(ca.client(), csr, {});                                    // expects a refusal
//   ca.client({ cert: leafPem, key: keyPem })  // renewal: presents a TLS client certificate
//   ca.process.json()                          // the CA's JSON log lines; ca.process.waitFor(/re/)
//   await ca.stop();                           // SIGTERM, resolves with the exit code, removes nothing
// One CA per test file (beforeAll/afterAll) keeps the suite fast; every refusal test should then check
// that the same CA still signs for someone else (expectStillServing).
// Defaults: trust domain example.org, one signing worker (pass args: ['--sign-workers', '2'] to override), rate
// limit as in production (5/s, burst 20 per identity: pass ['--rate-limit', '0'] for load). Clients dial 127.0.0.1
// and verify the CA's serving certificate under the name CA_TLS_NAME ("localhost") against bundle.pem.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'vitest';
import { loadCaProto } from '../../src/common/ca-proto.js';
import type { CertificateAuthorityClient } from '../../src/gen/ztmesh/ca/v1/CertificateAuthority.js';
import type { SignCertificateResponse__Output } from '../../src/gen/ztmesh/ca/v1/SignCertificateResponse.js';
import { JoinTokenStore } from '../../src/ca/attestors/join-tokens.js';
import { buildCsr, generateKeySync, privateKeyPem, certsToPem, type KeyAlgorithm } from '../../src/pki/index.js';
import { CliProcess, runCli } from './cli.js';
import { tempDir } from './temp-dir.js';

export type { CertificateAuthorityClient } from '../../src/gen/ztmesh/ca/v1/CertificateAuthority.js';

/** The DNS name the CA's serving certificate carries by default; clients dial 127.0.0.1 and check this name. */
export const CA_TLS_NAME = 'localhost';

export interface StartCaOptions {
  trustDomain?: string;
  /** Extra `ca serve` flags, e.g. ['--min-ttl', '1s', '--rate-limit', '0']. */
  args?: string[];
  /** Use this state dir instead of running `ca init` in a fresh one (plug-in CA tests). */
  dir?: string;
  /** A command that execs `ztmesh ca serve`, e.g. ['prlimit', '--nofile=600:600'] to limit its file descriptors. */
  wrap?: string[];
}

export interface ClientOptions {
  /** Connect without TLS (to test that the CA refuses it). */
  plaintext?: boolean;
  /** PEM client certificate chain (leaf first) and key, for renewal. */
  cert?: string;
  key?: string;
  /** Roots to verify the CA with; defaults to the CA's bundle.pem. */
  rootsPem?: string;
}

export interface TestCaServer {
  dir: string;
  trustDomain: string;
  /** "127.0.0.1:PORT" of the gRPC server. */
  address: string;
  /** "127.0.0.1:PORT" of the admin HTTP server. */
  adminAddress: string;
  /** bundle.pem as it was at start. */
  bundlePem: string;
  process: CliProcess;
  /** Mints a join token straight into the state dir (no CLI round trip). nowMs lets tests make expired tokens. */
  mintToken(spiffeId: string, opts?: { ttlMs?: number; nowMs?: number }): Promise<string>;
  /** A gRPC client for this CA; closed by stop(). */
  client(opts?: ClientOptions): CertificateAuthorityClient;
  stop(): Promise<number | null>;
}

/** Makes a key and a CSR asking for `uris` (default: [spiffeId] when given). */
export function makeCsr(spiffeId?: string, opts: { alg?: KeyAlgorithm; uris?: string[]; dnsNames?: string[] } = {}): { key: KeyObject; keyPem: string; csr: Buffer } {
  const key = generateKeySync(opts.alg ?? 'ec-p256');
  const csr = buildCsr(key, { uris: opts.uris ?? (spiffeId ? [spiffeId] : []), dnsNames: opts.dnsNames ?? [] });
  return { key, keyPem: privateKeyPem(key), csr };
}

/** Runs `ztmesh ca init` in a fresh temp dir and returns the dir. */
export async function initCa(trustDomain = 'example.org'): Promise<string> {
  const dir = join(tempDir('ztmesh-ca-'), 'ca');
  const r = await runCli(['ca', 'init', '--dir', dir, '--trust-domain', trustDomain]);
  if (r.code !== 0) throw new Error(`ca init failed: ${r.stderr}`);
  return dir;
}

/** Starts `ztmesh ca serve` on 127.0.0.1 port 0 (gRPC and admin) and waits for its "serving" line. */
export async function startCa(opts: StartCaOptions = {}): Promise<TestCaServer> {
  const trustDomain = opts.trustDomain ?? 'example.org';
  const dir = opts.dir ?? (await initCa(trustDomain));
  const proc = new CliProcess([
    'ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--sign-workers', '1', ...(opts.args ?? []),
  ], {}, opts.wrap);
  const line = await Promise.race([
    proc.waitFor(/"msg":"ztmesh ca serving"/),
    proc.exited.then((code) => { throw new Error(`ca serve exited with ${code}:\n${proc.output()}`); }),
  ]);
  const info = JSON.parse(line) as { grpc: string; admin: string; trustDomain: string };
  const bundlePem = await readFile(join(dir, 'bundle.pem'), 'utf8');
  const clients: grpc.Client[] = [];
  const store = new JoinTokenStore(dir);
  return {
    dir,
    trustDomain: info.trustDomain,
    address: info.grpc,
    adminAddress: info.admin,
    bundlePem,
    process: proc,
    async mintToken(spiffeId, o = {}) {
      return (await store.create(spiffeId, o.ttlMs ?? 3_600_000, o.nowMs ?? Date.now())).token;
    },
    client(c = {}) {
      const client = caClient(info.grpc, bundlePem, c);
      clients.push(client as unknown as grpc.Client);
      return client;
    },
    async stop() {
      for (const c of clients) c.close();
      return proc.stop();
    },
  };
}

/** A gRPC client for the CA at `address` (in a process or in this one), verifying it against `bundlePem`; close() it. */
export function caClient(address: string, bundlePem: string, c: ClientOptions = {}): CertificateAuthorityClient {
  const { proto } = loadCaProto();
  const creds = c.plaintext
    ? grpc.credentials.createInsecure()
    : grpc.credentials.createSsl(Buffer.from(c.rootsPem ?? bundlePem), c.key ? Buffer.from(c.key) : null, c.cert ? Buffer.from(c.cert) : null);
  return new proto.ztmesh.ca.v1.CertificateAuthority(address, creds, {
    'grpc.ssl_target_name_override': CA_TLS_NAME, 'grpc.default_authority': CA_TLS_NAME,
  }) as unknown as CertificateAuthorityClient;
}

/** Calls SignCertificate with an optional bearer token; rejects with the grpc ServiceError. */
export function signCsr(client: CertificateAuthorityClient, csr: Buffer, opts: { token?: string; ttlSeconds?: number } = {}): Promise<SignCertificateResponse__Output> {
  const md = new grpc.Metadata();
  if (opts.token !== undefined) md.set('authorization', `Bearer ${opts.token}`);
  return new Promise((resolve, reject) => {
    client.SignCertificate({ csr, ttlSeconds: opts.ttlSeconds ?? 0 }, md, { deadline: Date.now() + 15_000 }, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

/** Calls SignCertificate expecting a refusal; returns the ServiceError (fails the test if it was signed). */
export async function signError(client: CertificateAuthorityClient, csr: Buffer, opts: { token?: string; ttlSeconds?: number } = {}): Promise<grpc.ServiceError> {
  try {
    await signCsr(client, csr, opts);
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected SignCertificate to be refused, but it signed');
}

/** PEM chain (leaf first) of a response. */
export function chainPem(res: SignCertificateResponse__Output): string {
  return certsToPem(res.certChain);
}

/** Asserts the CA still issues to a fresh, well-behaved workload (after a refusal). */
export async function expectStillServing(ca: TestCaServer, spiffeId = `spiffe://${ca.trustDomain}/ns/default/sa/still-serving`): Promise<void> {
  const token = await ca.mintToken(spiffeId);
  const { csr } = makeCsr(spiffeId);
  const res = await signCsr(ca.client(), csr, { token });
  expect(res.certChain.length).toBeGreaterThan(0);
}

/** The CA's "SignCertificate refused" log lines. */
export function refusals(ca: TestCaServer): Record<string, unknown>[] {
  return ca.process.json().filter((l) => l.msg === 'SignCertificate refused');
}

/** Waits until the CA logged a refusal with `code`, and returns that line (logs are asynchronous). */
export async function refusalLogged(ca: TestCaServer, code: string): Promise<Record<string, unknown>> {
  const line = await ca.process.waitFor(new RegExp(`"code":"${code}".*"msg":"SignCertificate refused"|"msg":"SignCertificate refused".*"code":"${code}"`), 10_000);
  return JSON.parse(line) as Record<string, unknown>;
}
