// maxConnections per listener: the connection over the limit is dropped, logged (max_connections) and counted;
// the ones inside the limit keep working, and a slot frees up when one closes.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, echoApp, metric, portOf, readAll, startMesh, until } from '../helpers/datapath.js';

describe('per-listener connection limit', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app, outbound: { maxConnections: 1 } });
  });
  afterAll(async () => { await mesh.close(); await app.close(); });

  it('drops the connection over the limit and serves again once a slot is free', async () => {
    const first = await connect(portOf(mesh.outbound.address));
    const echoed = new Promise<string>((r) => first.once('data', (d: Buffer) => r(d.toString())));
    first.write('one');
    expect(await echoed).toBe('one');

    const second = net.connect({ host: '127.0.0.1', port: portOf(mesh.outbound.address), allowHalfOpen: true });
    const r2 = readAll(second);
    second.write('two');
    expect((await r2).data.length).toBe(0);
    const line = await mesh.client.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', direction: 'outbound', reason: 'max_connections' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await metric(mesh.client.registry, 'ztmesh_connections_total', { direction: 'outbound', result: 'refused' })).toBe(1);

    first.end();
    await readAll(first);
    await until(() => mesh.outbound.server.listening && mesh.outbound.handler.activeCount() === 0);
    const third = await connect(portOf(mesh.outbound.address));
    const r3 = readAll(third);
    third.end('three');
    expect((await r3).data.toString()).toBe('three');
  });
});
