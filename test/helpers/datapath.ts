// Data-path test fixtures: identities from test-time certificates, in-process listeners on 127.0.0.1:0,
// captured JSON logs, metric reads, and small TCP apps (echo, sink, RST).
import { createHash, X509Certificate } from 'node:crypto';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach } from 'vitest';
import { systemClock, type Clock } from '../../src/common/clock.js';
import { takeSocketError, TCP_CLOSE, tcpState } from '../../src/common/tcp-state.js';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from '../../src/common/logger.js';
import { Watchable } from '../../src/common/watchable.js';
import { makeTrustBundle, type IdentitySnapshot, type IdentitySource, type Svid, type TrustBundle } from '../../src/identity/credentials.js';
import { certsToPem } from '../../src/pki/pem.js';
import { spkiOf } from '../../src/pki/certificate.js';
import { InboundConfig, OutboundConfig, inboundSchema, outboundSchema } from '../../src/sidecar/config-schema.js';
import { DataPath } from '../../src/sidecar/datapath.js';
import { startInbound, startOutbound } from '../../src/sidecar/listeners.js';
import { DEFAULT_TUNNEL_LIMITS, type TunnelLimits } from '../../src/sidecar/tunnel/protocol.js';
import { DEFAULT_HANDOFF_POLICY, type HandoffPolicy } from '../../src/sidecar/tunnel/handoff.js';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from './pki.js';
import { suiteFixture } from './suite-fixture.js';

export const TD = 'cluster.local';
export const WEB = `spiffe://${TD}/ns/default/sa/web`;
export const API = `spiffe://${TD}/ns/default/sa/api`;

/** Turns a test leaf into the Svid the identity part would publish. */
export function svidOf(leaf: TestLeaf): Svid {
  const cert = new X509Certificate(leaf.certDer);
  return {
    spiffeId: leaf.spiffeId, key: leaf.key, keyPem: leaf.keyPem, chainDer: [leaf.certDer], chainPem: certsToPem([leaf.certDer]),
    serialHex: leaf.serialHex, notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo),
    publicKeySha256: createHash('sha256').update(spkiOf(leaf.key)).digest('hex'),
  };
}

/** A workload identity under test control: rotate() issues a new leaf, expire() flips to `expired`. */
export class TestIdentity implements IdentitySource {
  readonly watch: Watchable<IdentitySnapshot>;
  readonly bundle: TrustBundle;
  constructor(readonly ca: TestCa, readonly spiffeId: string, leafOpts: Parameters<typeof makeLeaf>[2] = {}) {
    this.bundle = makeTrustBundle(ca.trustDomain, [ca.certDer], 1);
    this.watch = new Watchable<IdentitySnapshot>({ state: 'available', svid: svidOf(makeLeaf(ca, spiffeId, leafOpts)), bundle: this.bundle });
  }
  current(): IdentitySnapshot { return this.watch.get(); }
  subscribe(l: (s: IdentitySnapshot) => void): () => void { return this.watch.subscribe(l); }
  svid(): Svid { return this.watch.get().svid!; }
  /** Publishes a fresh leaf (new key, new serial) and returns it. */
  rotate(): Svid {
    const svid = svidOf(makeLeaf(this.ca, this.spiffeId));
    this.watch.set({ state: 'available', svid, bundle: this.bundle });
    return svid;
  }
  expire(): void { this.watch.set({ ...this.watch.get(), state: 'expired' }); }
}

/** A logger whose JSON lines are kept for assertions. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly log: Logger;
  constructor(level = 'debug') {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const l of chunk.toString().split('\n')) if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    this.log = createLogger({ level, destination: sink as unknown as DestinationStream });
  }
  refusals(): Record<string, unknown>[] { return this.lines.filter((l) => l.msg === 'connection refused'); }
  async waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const start = Date.now();
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() - start > timeoutMs) throw new Error(`no matching log line; have:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Reads one sample of a metric from a registry (0 when absent). */
export async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  const v = data.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** One sidecar's data path (its shared TLS material, dialer, metrics and connections), with its log lines captured. */
/** A handoff policy under which no tunnel stream ever leaves its tunnel (tests of the tunnel itself under bulk). */
export const NEVER_HAND_OFF: HandoffPolicy = { ...DEFAULT_HANDOFF_POLICY, bulkBytesPerSecond: Infinity, busyBytesPerSecond: Infinity };

export function sidecarShared(
  identity: IdentitySource,
  opts: { clock?: Clock; logs?: LogCapture; tunnelLimits?: Partial<TunnelLimits>; handoffPolicy?: HandoffPolicy; sweepIntervalMs?: number } = {},
): DataPath & { logs: LogCapture } {
  const logs = opts.logs ?? new LogCapture();
  const datapath = new DataPath({
    identity, clock: opts.clock ?? systemClock, registry: new Registry(), log: logs.log, trustDomain: TD,
    ...(opts.tunnelLimits ? { tunnelLimits: { ...DEFAULT_TUNNEL_LIMITS, ...opts.tunnelLimits } } : {}),
    ...(opts.handoffPolicy ? { handoffPolicy: opts.handoffPolicy } : {}),
    ...(opts.sweepIntervalMs !== undefined ? { sweepIntervalMs: opts.sweepIntervalMs } : {}),
  });
  return Object.assign(datapath, { logs });
}

export function inboundConfig(c: Partial<Record<keyof InboundConfig, unknown>> & { forward: string }): InboundConfig {
  return inboundSchema.parse({ name: 'in', listen: '127.0.0.1:0', ...c });
}
export function outboundConfig(c: Partial<Record<keyof OutboundConfig, unknown>> & { upstream: string }): OutboundConfig {
  return outboundSchema.parse({ name: 'out', listen: '127.0.0.1:0', ...c });
}

export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** A TCP server on 127.0.0.1:0; `onConn` gets each socket (allowHalfOpen). */
export async function tcpServer(onConn: (s: net.Socket) => void): Promise<{ server: net.Server; port: number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    open.add(s);
    s.once('close', () => open.delete(s));
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server, port,
    close: () => new Promise<void>((r) => { server.close(() => r()); for (const s of open) s.destroy(); }),
  };
}

/** A port nothing listens on right now (bind 0, note it, close): for servers that cannot take port 0. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** An echo app: everything read is written back; EOF is answered with EOF. */
export function echoApp(): ReturnType<typeof tcpServer> {
  return tcpServer((s) => { s.on('error', () => {}); s.pipe(s); });
}

/** A full mesh hop: app client → outbound (web) → inbound (api) → app. */
export async function startMesh(opts: {
  app: { port: number };
  inbound?: Partial<Record<keyof InboundConfig, unknown>>;
  outbound?: Partial<Record<keyof OutboundConfig, unknown>>;
  ca?: TestCa;
  /** Both data paths' tunnel bounds and timers, where a test shortens them. */
  tunnelLimits?: Partial<TunnelLimits>;
  /** The outbound side's clock (web's pool pings and idle timers run on it). */
  clientClock?: Clock;
  /** When web moves a tunnel stream to a connection of its own (NEVER_HAND_OFF keeps every stream on its tunnel). */
  handoffPolicy?: HandoffPolicy;
  /** How often both data paths' liveness sweeps look (tests of what only the sweep notices shorten it). */
  sweepIntervalMs?: number;
}) {
  const ca = opts.ca ?? makeCa(TD);
  const api = new TestIdentity(ca, API);
  const web = new TestIdentity(ca, WEB);
  const common = {
    ...(opts.tunnelLimits ? { tunnelLimits: opts.tunnelLimits } : {}),
    ...(opts.sweepIntervalMs !== undefined ? { sweepIntervalMs: opts.sweepIntervalMs } : {}),
  };
  const server = sidecarShared(api, common);
  const client = sidecarShared(web, {
    ...common, ...(opts.clientClock ? { clock: opts.clientClock } : {}), ...(opts.handoffPolicy ? { handoffPolicy: opts.handoffPolicy } : {}),
  });
  const inbound = await startInbound(inboundConfig({ ...opts.inbound, forward: (opts.inbound?.forward as string | undefined) ?? `127.0.0.1:${opts.app.port}` }), server);
  const outbound = await startOutbound(outboundConfig({ ...opts.outbound, upstream: (opts.outbound?.upstream as string | undefined) ?? inbound.address }), client);
  return {
    ca, api, web, server, client, inbound, outbound,
    async close() {
      await server.close();
      await client.close();
    },
  };
}

/**
 * For the test file that calls it: an echo app and a mesh in front of it, started in beforeAll and closed in afterAll.
 * The returned mesh stands for the started one (its properties are read from it when used).
 */
export function echoMeshForSuite(opts: Omit<Parameters<typeof startMesh>[0], 'app'> = {}): Awaited<ReturnType<typeof startMesh>> {
  return suiteFixture('mesh', async () => {
    const app = await echoApp();
    const mesh = await startMesh({ ...opts, app });
    const stop = mesh.close;
    return Object.assign(mesh, { async close() { await stop(); await app.close(); } });
  }, (mesh) => mesh.close());
}

/** One inbound listener (api's, allowing web by default) on its own data path, in front of an app of the test's. */
export interface InboundUnderTest {
  ca: TestCa;
  dp: DataPath & { logs: LogCapture };
  inbound: Awaited<ReturnType<typeof startInbound>>;
  port: number;
  /** The app's listening port. */
  appPort: number;
}

/**
 * For the test file that calls it: an app (`onConn` gets each of its sockets) and an inbound listener forwarding to it,
 * on a data path with its own clock and tunnel limits; leaves for clients come from `ca`.
 */
export function inboundForSuite(opts: {
  onConn: (s: net.Socket) => void;
  clock?: Clock;
  tunnelLimits?: Partial<TunnelLimits>;
  inbound?: Partial<Record<keyof InboundConfig, unknown>>;
}): InboundUnderTest {
  return suiteFixture('inbound', async () => {
    const ca = makeCa(TD);
    const app = await tcpServer((s) => { s.on('error', () => {}); opts.onConn(s); });
    const dp = sidecarShared(new TestIdentity(ca, API), { ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.tunnelLimits ? { tunnelLimits: opts.tunnelLimits } : {}) });
    const inbound = await startInbound(inboundConfig({ ...opts.inbound, forward: `127.0.0.1:${app.port}` }), dp);
    return { ca, dp, inbound, port: portOf(inbound.address), appPort: app.port, close: async () => { await dp.close(); await app.close(); } };
  }, (t) => t.close());
}

/** A connected pair of TCP sockets on 127.0.0.1: [the accepted one, the client]; options apply to the server. */
/**
 * For a test file: pairs of connected sockets that nobody reads on the accepting side (paused from accept), so that node
 * sees nothing of what the peer does and the kernel's view can be asked; both ends destroyed after each test.
 */
export function pausedSocketPairs(): () => Promise<[net.Socket, net.Socket]> {
  const cleanups: (() => void)[] = [];
  afterEach(() => { for (const c of cleanups.splice(0)) c(); });
  return async () => {
    const sockets = await socketPair({ allowHalfOpen: true, pauseOnConnect: true });
    for (const s of sockets) cleanups.push(() => s.destroy());
    return sockets;
  };
}

export async function socketPair(opts: net.ServerOpts = { allowHalfOpen: true }): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer(opts);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => client.once('connect', r));
  const ours = await accepted;
  server.close();
  for (const s of [client, ours]) s.on('error', () => {});
  return [ours, client];
}

/** Connects to 127.0.0.1:port with allowHalfOpen. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads a socket to EOF (or error), returning the bytes and how it ended. */
export function readAll(s: net.Socket): Promise<{ data: Buffer; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('end', () => resolve({ data: Buffer.concat(chunks) }));
    s.once('error', (error: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error }));
    s.once('close', () => resolve({ data: Buffer.concat(chunks) }));
  });
}

/**
 * readAll for a connection the test expects to be cut, telling a reset from a FIN where node cannot: libuv reports a
 * peer's RST as EOF when unread bytes arrived with it (src/common/tcp-state.ts), so at 'end' the kernel is asked. Linux
 * reports a connection's first error once: ECONNRESET for a reset that came before any FIN, EPIPE for one after a FIN.
 * It is still pending (SO_ERROR), or a write of ours took it (the connection is CLOSE, and node reports that write's
 * error next), or there was none (CLOSE_WAIT: a FIN alone). Linux only (getsockopt through koffi).
 */
export function readAllOrReset(s: net.Socket): Promise<{ data: Buffer; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (error?: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), ...(error ? { error } : {}) });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('end', () => {
      const pending = takeSocketError(s) ?? 0;
      if (pending !== 0) {
        const code = Object.entries(osConstants.errno).find(([, n]) => n === pending)?.[0] ?? String(pending);
        return done(Object.assign(new Error(`read ${code} (node reported it as the end)`), { code, errno: -pending }));
      }
      // A write took the error: node reports it next ('error'); a FIN alone leaves the connection in CLOSE_WAIT.
      if (tcpState(s) !== TCP_CLOSE) done();
    });
    s.once('error', (error: NodeJS.ErrnoException) => done(error));
    s.once('close', () => done());
  });
}

export { makeCa, makeLeaf };

export { until } from './until.js';
