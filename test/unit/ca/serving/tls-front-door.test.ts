// The CA's front door over real sockets, with a fake clock for its deadlines: a silent socket is closed at the
// handshake deadline, caps refuse (per source) or evict (the oldest handshake), each with a log line and a metric,
// and a TLS 1.3 client gets through to grpc-js's injector while a TLS 1.2 client does not.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TlsFrontDoor, type CaFrontDoorLimits } from '../../../../src/ca/serving/tls-front-door.js';
import { TRIM_AFTER_HANDSHAKES } from '../../../../src/front-door/front-door.js';
import { createCaMetrics, type CaMetrics } from '../../../../src/ca/metrics.js';
import { captureLogger } from '../../../helpers/k8s-test-kit.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { makeCa, makeLeaf } from '../../../helpers/pki.js';
import { metric, until } from '../../../helpers/datapath.js';
import { captureClientHello } from '../../../helpers/flood.js';
import { DEFAULT_LOG_THROTTLE } from '../../../../src/common/log-throttle.js';
import { GrpcHandOff } from '../../../../src/common/grpc-hand-off.js';

const root = makeCa('example.org');
const serving = makeLeaf(root, 'spiffe://example.org/ns/ztmesh-system/sa/ztmesh-ca', { dnsNames: ['localhost'] });
const context: tls.SecureContextOptions = { cert: serving.certPem, key: serving.keyPem, ca: root.certPem, minVersion: 'TLSv1.3' };

let clock: FakeClock;
let metrics: CaMetrics;
let log: ReturnType<typeof captureLogger>;
let door: TlsFrontDoor;
let injected: tls.TLSSocket[];
let trims: number;
const clients: net.Socket[] = [];

async function open(limits: Partial<CaFrontDoorLimits> = {}) {
  door = await TlsFrontDoor.listen({
    host: '127.0.0.1', port: 0, context, metrics, clock, log: log.logger, heap: { request: () => { trims++; } },
    limits: { handshakeTimeoutMs: 5_000, max: 100, maxPerSource: 100, ...limits },
    handOff: new GrpcHandOff({ injectConnection: (s) => injected.push(s as tls.TLSSocket) }),
  });
}

/** A TCP client that connects and says nothing; resolves once connected, `closed` once the server closes it. */
async function silent(localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; closed: Promise<void>; port: number }> {
  const socket = net.connect({ host: '127.0.0.1', port: door.port, localAddress });
  clients.push(socket);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r, j) => { socket.once('connect', r); socket.once('error', j); });
  return { socket, closed, port: socket.localPort! };
}

const isClosed = (s: net.Socket) => s.destroyed || s.readableEnded;
const refused = (code: string) => metric(metrics.registry, 'ztmesh_ca_connections_refused_total', { reason: code });

beforeEach(() => {
  clock = new FakeClock(Date.now());
  metrics = createCaMetrics();
  log = captureLogger();
  injected = [];
  trims = 0;
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of injected) s.destroy();
  door.destroyAll();
  await door.close();
});

describe('TlsFrontDoor', () => {
  it('closes a socket that never finishes its handshake at the deadline, counts and logs it naming the peer', async () => {
    await open();
    const { socket, closed, port } = await silent();
    await until(() => door.counts().handshaking === 1);
    await clock.advance(4_999);
    expect(isClosed(socket)).toBe(false);
    await clock.advance(1);
    await closed;
    expect(await refused('handshake_timeout')).toBe(1);
    expect(log.lines.find((l) => l.msg === 'connection refused')).toMatchObject({ level: 'warn', code: 'handshake_timeout', peer: `127.0.0.1:${port}` });
    await until(() => door.counts().handshaking === 0);
  });

  it('closes a half-open handshake (a ClientHello, then silence) at the deadline', async () => {
    await open();
    const { socket, closed } = await silent();
    let answered = 0;
    socket.on('data', (d: Buffer) => { answered += d.length; });
    socket.write(await captureClientHello());
    await until(() => answered > 0); // the server sent its flight and now waits for ours
    await clock.advance(5_000);
    await closed;
    expect(await refused('handshake_timeout')).toBe(1);
  });

  it('hands a TLS 1.3 client to the injector and leaves it open past the deadline; refuses TLS 1.2', async () => {
    await open();
    const client = tls.connect({ host: '127.0.0.1', port: door.port, servername: 'localhost', ca: root.certPem, ALPNProtocols: ['h2'] });
    clients.push(client);
    await new Promise<void>((r, j) => { client.once('secureConnect', r); client.once('error', j); });
    expect(client.getProtocol()).toBe('TLSv1.3');
    await until(() => injected.length === 1);
    expect(door.counts()).toMatchObject({ handshaking: 0, established: 1 });
    await clock.advance(60_000);
    expect(isClosed(client)).toBe(false);

    const old = tls.connect({ host: '127.0.0.1', port: door.port, servername: 'localhost', ca: root.certPem, ALPNProtocols: ['h2'], maxVersion: 'TLSv1.2' });
    clients.push(old);
    await new Promise<void>((r) => { old.once('error', () => r()); old.once('close', () => r()); });
    await until(() => log.lines.some((l) => l.code === 'tls_version'));
    expect(await refused('tls_version')).toBe(1);
    expect(injected).toHaveLength(1);
  });

  it('refuses a source over its cap at once and still admits other sources', async () => {
    await open({ maxPerSource: 2 });
    await silent('127.0.0.2');
    await silent('127.0.0.2');
    const third = await silent('127.0.0.2');
    await third.closed;
    expect(await refused('source_connection_limit')).toBe(1);
    expect(log.lines.find((l) => l.code === 'source_connection_limit')).toMatchObject({ peer: `127.0.0.2:${third.port}` });
    const other = await silent('127.0.0.3');
    await until(() => door.counts().handshaking === 3);
    expect(isClosed(other.socket)).toBe(false);
  });

  it('at the total cap evicts the oldest handshake, so a real client still gets through a flood', async () => {
    await open({ max: 3 });
    const flood = [];
    for (let i = 0; i < 6; i++) flood.push(await silent(`127.0.0.${10 + i}`));
    await Promise.all(flood.slice(0, 3).map((f) => f.closed));
    await until(() => door.counts().handshaking === 3);
    expect(await refused('handshake_limit')).toBe(3);
    const client = tls.connect({ host: '127.0.0.1', port: door.port, servername: 'localhost', ca: root.certPem, ALPNProtocols: ['h2'] });
    clients.push(client);
    await new Promise<void>((r, j) => { client.once('secureConnect', r); client.once('error', j); });
    await until(() => injected.length === 1);
    expect(door.counts()).toMatchObject({ handshaking: 2, established: 1 });
  });

  it('refuses a newcomer only when every held connection is established', async () => {
    await open({ max: 1 });
    const client = tls.connect({ host: '127.0.0.1', port: door.port, servername: 'localhost', ca: root.certPem, ALPNProtocols: ['h2'] });
    clients.push(client);
    await new Promise<void>((r, j) => { client.once('secureConnect', r); client.once('error', j); });
    await until(() => injected.length === 1);
    const late = await silent();
    await late.closed;
    expect(await refused('connection_limit')).toBe(1);
  });

  it('rate-limits its log lines under a flood, but counts every refusal', async () => {
    await open({ maxPerSource: 1, handshakeTimeoutMs: 600_000 }); // the one held socket outlives the log window
    await silent('127.0.0.4');
    const refusedOnes = [];
    for (let i = 0; i < 30; i++) refusedOnes.push(await silent('127.0.0.4'));
    await Promise.all(refusedOnes.map((r) => r.closed));
    expect(await refused('source_connection_limit')).toBe(30);
    const lines = () => log.lines.filter((l) => l.code === 'source_connection_limit' && l.msg === 'connection refused');
    expect(lines()).toHaveLength(DEFAULT_LOG_THROTTLE.max);
    await clock.advance(DEFAULT_LOG_THROTTLE.windowMs);
    const next = await silent('127.0.0.4');
    await next.closed;
    await until(() => lines().length === DEFAULT_LOG_THROTTLE.max + 1);
    expect(lines().at(-1)).toMatchObject({ suppressed: 30 - DEFAULT_LOG_THROTTLE.max, peer: `127.0.0.4:${next.port}` });
  });

  it('asks for one heap trim once a burst of handshakes is over, none for a few', async () => {
    await open();
    const few = await Promise.all(Array.from({ length: 5 }, () => silent()));
    await until(() => door.counts().handshaking === 5);
    await clock.advance(5_000);
    await Promise.all(few.map((f) => f.closed));
    expect(trims).toBe(0);
    const burst = await Promise.all(Array.from({ length: TRIM_AFTER_HANDSHAKES }, (_, i) => silent(`127.0.1.${i + 1}`)));
    await until(() => door.counts().handshaking === TRIM_AFTER_HANDSHAKES);
    expect(trims).toBe(0);
    await clock.advance(5_000);
    await Promise.all(burst.map((f) => f.closed));
    await until(() => door.counts().handshaking === 0);
    expect(trims).toBe(1);
  });
});
