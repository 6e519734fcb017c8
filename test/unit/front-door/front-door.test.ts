// The front door over real sockets, on a fake clock, where the CA's and the inbound's own tests do not reach: a peer
// that leaves before its first byte is abandoned, not refused; the step before TLS (`detect`) sends a client whose
// first byte is not a TLS record, or that stays silent, out of the front door, and lets a TLS client through.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { FrontDoor, type Detect, type DoorConnection } from '../../../src/front-door/front-door.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';
import { until } from '../../helpers/until.js';

const root = makeCa('example.org');
const serving = makeLeaf(root, 'spiffe://example.org/ns/default/sa/api', { dnsNames: ['localhost'] });

interface Setup {
  door: FrontDoor<string>;
  port: number;
  events: string[];
  left: { conn: DoorConnection<string>; silent: boolean }[];
  established: tls.TLSSocket[];
}

const closers: (() => void)[] = [];
afterEach(() => { for (const c of closers.splice(0)) c(); });

async function setup(clock: FakeClock, detect?: Detect<string>): Promise<Setup> {
  const events: string[] = [];
  const left: Setup['left'] = [];
  const established: tls.TLSSocket[] = [];
  const door = new FrontDoor<string>({
    tls: { cert: serving.certPem, key: serving.keyPem, minVersion: 'TLSv1.3' },
    limits: { handshakeTimeoutMs: 5_000, maxPending: 10, maxPendingPerSource: 10 },
    clock, log: captureLogger().logger,
    report: { refused: (_peer, reason) => events.push(`refused ${reason}`), abandoned: (_peer, detail) => events.push(`abandoned ${detail}`) },
    established: (t) => { established.push(t); },
    ...(detect ? { detect: () => ({ silenceMs: detect.silenceMs, notTls: (conn, silent) => { left.push({ conn, silent }); detect.notTls(conn, silent); } }) } : {}),
  });
  const server = net.createServer((raw) => door.handle(raw, 'route'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => { server.close(); door.closeUnfinished(); for (const t of established) t.destroy(); for (const l of left) l.conn.raw.destroy(); });
  return { door, port: (server.address() as net.AddressInfo).port, events, left, established };
}

function dial(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  closers.push(() => s.destroy());
  return new Promise((r) => s.once('connect', () => r(s)));
}

describe('FrontDoor', () => {
  it('reports a peer that hangs up before its first byte as abandoned, and holds nothing for it', async () => {
    const clock = new FakeClock();
    const s = await setup(clock);
    const c = await dial(s.port);
    await until(() => s.door.pendingCount === 1);
    c.end();
    await until(() => s.events.length === 1);
    expect(s.events).toEqual(['abandoned closed before its first byte']);
    expect(s.door.pendingCount).toBe(0);
    expect(clock.pendingTimers()).toEqual([]); // the deadline went with the connection
  });

  it('detect: a client gone before its first byte is abandoned too, and leaves no timer', async () => {
    const clock = new FakeClock();
    const s = await setup(clock, { silenceMs: 1_000, notTls: () => {} });
    const c = await dial(s.port);
    await until(() => s.door.pendingCount === 1);
    c.end();
    await until(() => s.events.length === 1);
    expect(s.events).toEqual(['abandoned closed before its first byte']);
    expect(s.left).toEqual([]);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('detect: a first byte that is not a TLS record leaves the front door, unread, with its context', async () => {
    const clock = new FakeClock();
    const s = await setup(clock, { silenceMs: 1_000, notTls: (conn) => conn.raw.pipe(conn.raw) });
    const c = await dial(s.port);
    const echoed = new Promise<string>((r) => c.once('data', (d: Buffer) => r(d.toString())));
    c.write('GET / HTTP/1.1\r\n\r\n');
    expect(await echoed).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(s.left).toMatchObject([{ silent: false, conn: { context: 'route', peer: `127.0.0.1:${c.localPort}` } }]);
    expect(s.door.pendingCount).toBe(0);
    await clock.advance(5_000);
    expect(s.events).toEqual([]); // no deadline left for it
  });

  it('detect: a client silent for silenceMs leaves the front door as silent; one that speaks TLS goes on to TLS', async () => {
    const clock = new FakeClock();
    const s = await setup(clock, { silenceMs: 1_000, notTls: () => {} });
    await dial(s.port);
    await until(() => s.door.pendingCount === 1);
    await clock.advance(999);
    expect(s.left).toEqual([]);
    await clock.advance(1);
    expect(s.left).toMatchObject([{ silent: true }]);
    expect(s.door.pendingCount).toBe(0);

    const t = tls.connect({ host: '127.0.0.1', port: s.port, ca: root.certPem, servername: 'localhost' });
    closers.push(() => t.destroy());
    t.on('error', () => {});
    await new Promise<void>((r) => t.once('secureConnect', () => r()));
    await until(() => s.established.length === 1);
    await clock.advance(5_000);
    expect(s.left).toHaveLength(1);
    expect(s.events).toEqual([]);
  });
});
