// Outbound refuses an upstream whose SPIFFE ID does not match `expect` (server_id_mismatch):
// the app connection is closed, nothing the app wrote is sent, and the refusal names the upstream's ID.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, connect, metric, portOf, readAllOrReset, startMesh, tcpServer } from '../helpers/datapath.js';

describe('outbound refuses a server ID mismatch', () => {
  const received: Buffer[] = [];
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await tcpServer((s) => { s.on('data', (d: Buffer) => received.push(d)); s.on('error', () => {}); });
    mesh = await startMesh({ app, outbound: { expect: 'spiffe://cluster.local/ns/payments/*' } });
  });
  afterAll(async () => { await mesh.close(); await app.close(); });

  it('closes the app connection having sent nothing', async () => {
    const s = await connect(portOf(mesh.outbound.address));
    s.write('secret request');
    const { data, error } = await readAllOrReset(s);
    expect(data.length).toBe(0);
    expect(error?.code).toBe('ECONNRESET');
    const line = await mesh.client.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', direction: 'outbound', reason: 'server_id_mismatch', peerId: API });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await metric(mesh.client.registry, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'server_id_mismatch' })).toBe(1);
    await new Promise((r) => setTimeout(r, 100)); // give any leaked byte time to arrive at the app
    expect(Buffer.concat(received).toString()).not.toContain('secret');
  });
});
