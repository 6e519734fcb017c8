// An inbound holds a bounded number of unfinished handshakes, per source address and in total. At a full bound the
// oldest unfinished handshake (of the newcomer's address, else of the listener) is cut with handshake_limit, and
// the newcomer, here a real mesh client, is served. Real sockets from several 127.0.0.x addresses; handshake
// timeouts run on the injected clock, so the silent sockets stay until the test moves it.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, echoApp, inboundConfig, makeCa, makeLeaf, metric, portOf, readAll, sidecarShared, TestIdentity, until, WEB } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startInbound } from '../../src/sidecar/listeners.js';

describe('inbound bounds unfinished handshakes', () => {
  const clock = new FakeClock(Date.now());
  const ca = makeCa();
  let app: Awaited<ReturnType<typeof echoApp>>;
  let shared: ReturnType<typeof sidecarShared>;
  let inbound: Awaited<ReturnType<typeof startInbound>>;
  const open: net.Socket[] = [];
  beforeAll(async () => {
    app = await echoApp();
    shared = sidecarShared(new TestIdentity(ca, API), { clock });
    inbound = await startInbound(inboundConfig({
      forward: `127.0.0.1:${app.port}`, handshakeTimeout: '10s', maxPendingHandshakes: 3, maxPendingHandshakesPerSource: 2,
    }), shared);
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await inbound.stopAccepting();
    inbound.handler.destroyAll();
    inbound.handler.dispose();
    await app.close();
  });

  const port = () => portOf(inbound.address);
  const refusals = () => shared.logs.refusals();

  /** A TCP connection from `source`, once the inbound holds it as an unfinished handshake. */
  async function dial(source: string): Promise<{ socket: net.Socket; peer: string; ended: ReturnType<typeof readAll> }> {
    const admitted = inbound.handler.pendingCount() + refusals().length;
    const socket = net.connect({ host: '127.0.0.1', port: port(), localAddress: source });
    socket.on('error', () => {});
    open.push(socket);
    const ended = readAll(socket);
    await new Promise((r) => socket.once('connect', r));
    await until(() => inbound.handler.pendingCount() + refusals().length > admitted);
    return { socket, peer: `${source}:${socket.localPort}`, ended };
  }

  it('cuts the oldest unfinished handshake at a full bound and serves the newcomer', async () => {
    const a1 = await dial('127.0.0.1');
    const a2 = await dial('127.0.0.1');
    expect(refusals()).toEqual([]);

    // 127.0.0.1 is at its bound of 2: its own oldest (a1) gives way.
    await dial('127.0.0.1');
    await a1.ended;
    expect(refusals().at(-1)).toMatchObject({ level: 'warn', reason: 'handshake_limit', peer: a1.peer, detail: 'oldest unfinished handshake at the source bound of 2' });

    // The listener is at its bound of 3: a real client from another address gets in, the oldest overall (a2) goes.
    await dial('127.0.0.2');
    expect(inbound.handler.pendingCount()).toBe(3);
    const leaf = makeLeaf(ca, WEB);
    const raw = net.connect({ host: '127.0.0.1', port: port(), localAddress: '127.0.0.4' });
    const client = tls.connect({ socket: raw, key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    open.push(client);
    const echoed = readAll(client);
    client.end('through the bound');
    expect((await echoed).data.toString()).toBe('through the bound');
    await a2.ended;
    expect(refusals().at(-1)).toMatchObject({ reason: 'handshake_limit', peer: a2.peer, detail: 'oldest unfinished handshake at the listener bound of 3' });
    expect(await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'handshake_limit' })).toBe(2);

    // The two left still time out as ever.
    expect(inbound.handler.pendingCount()).toBe(2);
    await clock.advance(10_000);
    await until(() => inbound.handler.pendingCount() === 0);
    expect(await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'handshake_timeout' })).toBe(2);
    expect(refusals()).toHaveLength(4);
  });
});
