// When the local app refuses the forward, the authorized connection is reset, logged as "connection failed"
// (forward_unavailable, with the peer's ID) and counted as an error, not as a refusal, on both sidecars.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, metric, portOf, readAllOrReset, startMesh, WEB } from '../helpers/datapath.js';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('inbound forward unavailable', () => {
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    mesh = await startMesh({ app: { port: await closedPort() } });
  });
  afterAll(async () => { await mesh.close(); });

  it('resets the client and reports forward_unavailable', async () => {
    const s = await connect(portOf(mesh.outbound.address));
    s.write('hello');
    const { data, error } = await readAllOrReset(s);
    expect(data.length).toBe(0);
    expect(error?.code).toBe('ECONNRESET');
    const line = await mesh.server.logs.waitFor((l) => l.msg === 'connection failed');
    expect(line).toMatchObject({ level: 'warn', reason: 'forward_unavailable', peerId: WEB, detail: 'ECONNREFUSED' });
    expect(await metric(mesh.server.registry, 'ztmesh_connections_total', { direction: 'inbound', result: 'error' })).toBe(1);
    expect(mesh.server.logs.refusals()).toEqual([]);
    // The calling side was not refused either: an app that is down is an error there too, never "denied".
    const calling = await mesh.client.logs.waitFor((l) => l.msg === 'connection failed');
    expect(calling).toMatchObject({ direction: 'outbound', reason: 'forward_unavailable', peerId: expect.any(String) });
    expect(mesh.outbound.reporter.counters).toMatchObject({ denied: 0, lastRefusal: null });
    expect(await metric(mesh.client.registry, 'ztmesh_connections_total', { direction: 'outbound', result: 'error' })).toBe(1);
    expect(await metric(mesh.client.registry, 'ztmesh_connections_total', { direction: 'outbound', result: 'refused' })).toBe(0);
    expect(mesh.client.logs.refusals()).toEqual([]);
  });
});
