// Workload API test helper: a real CA and a real `ztmesh sidecar` process serving the SPIFFE Workload API on a Unix
// socket in a temp dir, and a grpc-js client of proto/spiffe/workloadapi.proto (with or without the security header).
//
//   const wl = await startWorkloadApiSidecar({ ca, args: ['--workload-api-allow-uids', '*'] });
//   const c = wl.client();                        // sends `workload.spiffe.io: true`
//   const first = await firstMessage(c.FetchX509SVID({}));
//   const svids = collectMessages(c.FetchX509SVID({})); await svids.next(2);   // every message, the 2nd awaited
//   const err = await unaryError(wl.client({ header: false }), 'FetchJWTSVID', { audience: ['a'] });
//   await wl.stop();                              // the sidecar and the clients (the temp dir goes with the test file)
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { beforeAll } from 'vitest';
import { read as readDer } from '../../src/pki/der.js';
import { loadWorkloadApiProto } from '../../src/workload-api/proto.js';
import type { SpiffeWorkloadAPIClient } from '../../src/gen/spiffe/SpiffeWorkloadAPI.js';
import { startCa, type StartCaOptions, type TestCaServer } from './ca.js';
import { BUILD_TIMEOUT_MS, interopTool } from './interop.js';
import { suiteFixture } from './suite-fixture.js';
import { startSidecar, type StartSidecarOptions, type TestSidecar } from './sidecar.js';
import { tempDir } from './temp-dir.js';

export type { SpiffeWorkloadAPIClient } from '../../src/gen/spiffe/SpiffeWorkloadAPI.js';

export interface WorkloadApiSidecar {
  sidecar: TestSidecar;
  /** The socket path, and the SPIFFE_ENDPOINT_SOCKET value that names it. */
  socket: string;
  endpoint: string;
  dir: string;
  client(opts?: { header?: boolean }): SpiffeWorkloadAPIClient;
  stop(): Promise<void>;
}

/** A grpc-js client of the Workload API at `socket`; `header: false` leaves out `workload.spiffe.io: true`. Close it. */
export function workloadApiClient(socket: string, opts: { header?: boolean; options?: grpc.ChannelOptions } = {}): SpiffeWorkloadAPIClient {
  const Ctor = loadWorkloadApiProto().SpiffeWorkloadAPI as unknown as typeof grpc.Client;
  const interceptors = opts.header === false ? [] : [(options: grpc.InterceptorOptions, next: grpc.NextCall) => new grpc.InterceptingCall(next(options), {
    start(metadata, listener, nextStart) {
      metadata.set('workload.spiffe.io', 'true');
      nextStart(metadata, listener);
    },
  })];
  return new Ctor(`unix://${socket}`, grpc.credentials.createInsecure(), { ...opts.options, interceptors }) as unknown as SpiffeWorkloadAPIClient;
}

/** Starts a sidecar serving the Workload API on a socket in a fresh temp dir (extra flags in `args`). */
export async function startWorkloadApiSidecar(opts: StartSidecarOptions): Promise<WorkloadApiSidecar> {
  const dir = tempDir('ztmesh-wl-');
  const socket = join(dir, 'api.sock');
  const sidecar = await startSidecar({ ...opts, args: ['--workload-api-socket', socket, ...(opts.args ?? [])] });
  const clients: grpc.Client[] = [];
  return {
    sidecar, socket, endpoint: `unix://${socket}`, dir,
    client(o = {}) {
      const c = workloadApiClient(socket, o);
      clients.push(c as unknown as grpc.Client);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await sidecar.stop();
      if (existsSync(socket)) throw new Error(`the sidecar left its socket ${socket} behind`);
    },
  };
}

/** What workloadApiSidecarForSuite() fills in before the tests run. */
export interface WorkloadApiSuite {
  ca: TestCaServer;
  wl: WorkloadApiSidecar;
  /** The interop tool asked for (its path), built once per content (test/interop/prepare.sh). */
  tool: string;
}

/**
 * One CA and one sidecar serving the Workload API, holding its SVID, for a test file (suiteFixture), and the interop
 * tool asked for, built first (its first build may take minutes, so it gets its own hook and time).
 */
export function workloadApiSidecarForSuite(opts: { ca?: StartCaOptions; sidecar?: Omit<StartSidecarOptions, 'ca'>; tool?: 'go' | 'spire' | 'python' } = {}): WorkloadApiSuite {
  let tool = '';
  if (opts.tool) beforeAll(async () => { tool = await interopTool(opts.tool!); }, BUILD_TIMEOUT_MS);
  return suiteFixture('Workload API sidecar', async () => {
    const ca = await startCa(opts.ca);
    let wl: WorkloadApiSidecar | undefined;
    try {
      wl = await startWorkloadApiSidecar({ ...opts.sidecar, ca });
      await wl.sidecar.waitForStatus((s) => s.identity.state === 'available');
    } catch (e) {
      await wl?.stop();
      await ca.stop();
      throw e;
    }
    return { ca, wl, get tool() { return tool; } };
  }, async ({ ca, wl }) => {
    await wl.stop();
    await ca.stop();
  });
}

/** The first message of a server stream (cancelled after), or the stream's error. */
export function firstMessage<T>(stream: grpc.ClientReadableStream<T>, timeoutMs = 10_000): Promise<T> {
  return nextMessages(stream, 1, timeoutMs).then((m) => m[0]!);
}

/** The first `n` messages of a server stream (cancelled after); rejects with the stream's error or on timeout. */
export function nextMessages<T>(stream: grpc.ClientReadableStream<T>, n: number, timeoutMs = 10_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    const timer = setTimeout(() => { stream.cancel(); reject(new Error(`${got.length} of ${n} messages within ${timeoutMs} ms`)); }, timeoutMs);
    stream.on('data', (m: T) => {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        stream.cancel();
        resolve(got);
      }
    });
    stream.on('error', (e: grpc.ServiceError) => {
      clearTimeout(timer);
      if (e.code !== grpc.status.CANCELLED || got.length < n) reject(e);
    });
  });
}

/** Every message of a server stream as it arrives; next(n) waits for the n-th (1-based). Cancel the stream after. */
export interface MessageCollector<T> {
  messages: T[];
  next(n: number, timeoutMs?: number): Promise<T>;
}

/** Collects a server stream's messages (woken by each arrival, no polling); an error fails every later next(). */
export function collectMessages<T>(stream: grpc.ClientReadableStream<T>): MessageCollector<T> {
  const messages: T[] = [];
  const waiters = new Set<() => void>();
  let failed: grpc.ServiceError | undefined;
  const wake = () => { for (const w of [...waiters]) w(); };
  stream.on('data', (m: T) => { messages.push(m); wake(); });
  stream.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) failed = e; wake(); });
  return {
    messages,
    next(n, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length >= n) { done(); resolve(messages[n - 1]!); } else if (failed) { done(); reject(failed); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`${messages.length} of ${n} messages within ${timeoutMs} ms`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
  };
}

/** The certificates of a Workload API DER field (a chain or a bundle: DER certificates back to back). */
export function derCertificates(der: Buffer): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (let offset = 0; offset < der.length;) {
    const node = readDer(der, offset);
    out.push(new X509Certificate(node.raw));
    offset += node.raw.length;
  }
  return out;
}

/** The error a server stream ends with before any message. */
export async function streamError<T>(stream: grpc.ClientReadableStream<T>): Promise<grpc.ServiceError> {
  try {
    await firstMessage(stream);
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected the stream to fail, but it sent a message');
}

/** Calls a unary method; rejects with the ServiceError. */
export function unary<Res>(client: SpiffeWorkloadAPIClient, method: 'FetchJWTSVID' | 'ValidateJWTSVID', request: object): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client[method] as unknown as (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Res) => void) => void)
      .call(client, request, { deadline: Date.now() + 15_000 }, (e, v) => (e ? reject(e) : resolve(v!)));
  });
}

/** Calls a unary method expecting a refusal; returns the ServiceError. */
export async function unaryError(client: SpiffeWorkloadAPIClient, method: 'FetchJWTSVID' | 'ValidateJWTSVID', request: object): Promise<grpc.ServiceError> {
  try {
    await unary(client, method, request);
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error(`expected ${method} to be refused, but it answered`);
}
