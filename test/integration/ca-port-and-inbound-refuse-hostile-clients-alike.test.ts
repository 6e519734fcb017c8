// One front door: the CA's gRPC port and a sidecar inbound, given the same bounds, meet the same hostile clients (one
// that says nothing, one that hangs up at once, a half-open handshake, plaintext, TLS 1.2, a flood of silent sockets
// from 40 loopback addresses) and answer each with the same reason codes, nothing else, within the same bounds; a real
// client gets through the flood at both. Real sockets, both doors on one fake clock.
import net from 'node:net';
import tls from 'node:tls';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaMetrics } from '../../src/ca/metrics.js';
import { TlsFrontDoor } from '../../src/ca/serving/tls-front-door.js';
import { startInbound } from '../../src/sidecar/listeners.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { API, echoApp, inboundConfig, makeCa, makeLeaf, portOf, sidecarShared, TestIdentity, until, WEB } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureClientHello } from '../helpers/flood.js';
import { GrpcHandOff } from '../../src/common/grpc-hand-off.js';

const TIMEOUT_MS = 5_000;
/** Unfinished handshakes either door holds at once. */
const BOUND = 6;
const FLOOD_SOURCES = 40;

/** What the test needs of a door: its port, what it holds, what it counted, and a real client of its own kind. */
interface Door {
  port: number;
  held(): number;
  /** Every refusal counted so far, by reason. */
  refusals(): Promise<Record<string, number>>;
  /** A real client from `localAddress` finishes its handshake. */
  realClient(localAddress: string): Promise<tls.TLSSocket>;
}

const clock = new FakeClock(Date.now());
const mesh = makeCa();
const closers: (() => Promise<void> | void)[] = [];
const doors: Record<'ca' | 'inbound', Door> = {} as Record<'ca' | 'inbound', Door>;

async function counted(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await registry.getSingleMetric(name)?.get())?.values ?? []) {
    if (Object.entries(labels).every(([k, x]) => v.labels[k] === x) && v.value > 0) out[String(v.labels.reason)] = v.value;
  }
  return out;
}

function tlsClient(opts: tls.ConnectionOptions & { port: number; localAddress?: string }): Promise<tls.TLSSocket> {
  const { port, localAddress, ...rest } = opts;
  const t = tls.connect({ socket: net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }), ...rest });
  closers.push(() => { t.destroy(); });
  return new Promise((resolve, reject) => { t.once('secureConnect', () => resolve(t)); t.once('error', reject); });
}

beforeAll(async () => {
  // The CA's port, as build.ts wires it: its serving certificate (TLS 1.3 only, client certificates requested).
  const serving = makeLeaf(mesh, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-ca', { dnsNames: ['localhost'] });
  const metrics = createCaMetrics();
  const handedToGrpc: tls.TLSSocket[] = [];
  const ca = await TlsFrontDoor.listen({
    host: '127.0.0.1', port: 0, context: { cert: serving.certPem, key: serving.keyPem, ca: mesh.certPem, minVersion: 'TLSv1.3' },
    limits: { handshakeTimeoutMs: TIMEOUT_MS, max: BOUND, maxPerSource: BOUND }, metrics, clock, log: captureLogger().logger,
    handOff: new GrpcHandOff({ injectConnection: (s) => handedToGrpc.push(s as tls.TLSSocket) }),
  });
  closers.push(async () => { ca.destroyAll(); await ca.close(); });
  doors.ca = {
    port: ca.port,
    held: () => ca.counts().handshaking,
    refusals: () => counted(metrics.registry, 'ztmesh_ca_connections_refused_total'),
    realClient: (localAddress) => tlsClient({ port: ca.port, localAddress, servername: 'localhost', ca: mesh.certPem, ALPNProtocols: ['h2'] }),
  };

  // A sidecar inbound with the same bounds.
  const app = await echoApp();
  const dp = sidecarShared(new TestIdentity(mesh, API), { clock });
  const inbound = await startInbound(inboundConfig({
    forward: `127.0.0.1:${app.port}`, handshakeTimeout: `${TIMEOUT_MS}ms`, maxPendingHandshakes: BOUND, maxPendingHandshakesPerSource: BOUND,
  }), dp);
  closers.push(async () => { await dp.close(); await app.close(); });
  const leaf = makeLeaf(mesh, WEB);
  doors.inbound = {
    port: portOf(inbound.address),
    held: () => inbound.handler.pendingCount(),
    refusals: () => counted(dp.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound' }),
    realClient: (localAddress) => tlsClient({
      port: portOf(inbound.address), localAddress, key: leaf.keyPem, cert: leaf.certPem, ca: mesh.certPem, checkServerIdentity: () => undefined,
    }),
  };
});
afterAll(async () => { for (const c of closers.reverse()) await c(); });

/** A TCP client from `localAddress`, once connected; `closed` resolves when the door closes it. */
async function dial(door: Door, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port: door.port, localAddress });
  closers.push(() => { socket.destroy(); });
  socket.on('error', () => {});
  socket.on('data', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, closed };
}

/** The refusals `act` added at `door`, by reason. */
async function refusalsOf(door: Door, act: () => Promise<void>): Promise<Record<string, number>> {
  const before = await door.refusals();
  await act();
  const after = await door.refusals();
  const out: Record<string, number> = {};
  for (const [reason, n] of Object.entries(after)) if (n - (before[reason] ?? 0) > 0) out[reason] = n - (before[reason] ?? 0);
  return out;
}

describe.each(['ca', 'inbound'] as const)('the %s port', (name) => {
  const door = () => doors[name];

  it('closes a client that says nothing at the deadline from accept: handshake_timeout', async () => {
    expect(await refusalsOf(door(), async () => {
      const c = await dial(door());
      await until(() => door().held() === 1);
      await clock.advance(TIMEOUT_MS - 1);
      expect(c.socket.destroyed).toBe(false);
      await clock.advance(1);
      await c.closed;
    })).toEqual({ handshake_timeout: 1 });
    expect(door().held()).toBe(0);
  });

  it('refuses nothing for a client that hangs up before its first byte, and holds nothing for it', async () => {
    expect(await refusalsOf(door(), async () => {
      const c = await dial(door());
      await until(() => door().held() === 1);
      c.socket.end();
      await c.closed;
      await until(() => door().held() === 0);
      await clock.advance(TIMEOUT_MS);
    })).toEqual({});
  });

  it('closes a half-open handshake (a ClientHello, then silence) at the deadline: handshake_timeout', async () => {
    const hello = await captureClientHello();
    expect(await refusalsOf(door(), async () => {
      const c = await dial(door());
      let answered = 0;
      c.socket.on('data', (d: Buffer) => { answered += d.length; });
      c.socket.write(hello);
      await until(() => answered > 0); // the server's flight: it waits for ours now
      await clock.advance(TIMEOUT_MS);
      await c.closed;
    })).toEqual({ handshake_timeout: 1 });
  });

  it('refuses plaintext: not_tls', async () => {
    expect(await refusalsOf(door(), async () => {
      const c = await dial(door());
      c.socket.write('GET / HTTP/1.1\r\nHost: ztmesh\r\n\r\n');
      await c.closed;
    })).toEqual({ not_tls: 1 });
  });

  it('refuses TLS 1.2: tls_version', async () => {
    expect(await refusalsOf(door(), async () => {
      await expect(tlsClient({ port: door().port, maxVersion: 'TLSv1.2', rejectUnauthorized: false })).rejects.toThrow();
      await until(() => door().held() === 0); // the refusal is counted as the door lets go of it
    })).toEqual({ tls_version: 1 });
  });

  it(`holds at most ${BOUND} of a flood from ${FLOOD_SOURCES} addresses, cutting the oldest (handshake_limit), and lets a real client through`, async () => {
    let served: tls.TLSSocket | undefined;
    expect(await refusalsOf(door(), async () => {
      const flood: Awaited<ReturnType<typeof dial>>[] = [];
      for (let i = 0; i < FLOOD_SOURCES; i++) {
        flood.push(await dial(door(), `127.0.0.${10 + i}`));
        expect(door().held()).toBeLessThanOrEqual(BOUND);
      }
      await until(() => flood.filter((f) => f.socket.destroyed).length === FLOOD_SOURCES - BOUND);
      expect(door().held()).toBe(BOUND);
      // The oldest went first: the ones still held are the last BOUND.
      expect(flood.slice(-BOUND).every((f) => !f.socket.destroyed)).toBe(true);
      served = await door().realClient('127.0.0.2');
      await until(() => door().held() === BOUND - 1); // the server's side of TLS 1.3 finishes after the client's
      await clock.advance(TIMEOUT_MS);
      await Promise.all(flood.map((f) => f.closed));
    })).toEqual({ handshake_limit: FLOOD_SOURCES - BOUND + 1, handshake_timeout: BOUND - 1 });
    expect(door().held()).toBe(0);
    expect(served!.destroyed).toBe(false); // established: past the front door's deadline
  });
});
