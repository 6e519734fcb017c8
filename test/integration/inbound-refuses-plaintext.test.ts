// Plaintext sent to the inbound mTLS port is refused as not_tls, logged with the peer, counted;
// nothing reaches the app.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, portOf, readAll, startMesh, tcpServer } from '../helpers/datapath.js';

describe('inbound refuses plaintext', () => {
  let appConnections = 0;
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await tcpServer((s) => { appConnections++; s.pipe(s); });
    mesh = await startMesh({ app });
  });
  afterAll(async () => { await mesh.close(); await app.close(); });

  it.each([
    ['an HTTP request', 'GET / HTTP/1.1\r\nHost: api\r\n\r\n'],
    ['arbitrary text', 'hello, is anyone there?\n'],
  ])('refuses %s with not_tls', async (_name, bytes) => {
    const before = mesh.server.logs.refusals().length;
    const s = net.connect({ host: '127.0.0.1', port: portOf(mesh.inbound.address) });
    s.on('connect', () => s.write(bytes));
    const { data } = await readAll(s);
    expect(data.toString()).not.toContain(bytes.trim());
    const line = await mesh.server.logs.waitFor((l) => l.msg === 'connection refused' && mesh.server.logs.refusals().indexOf(l) >= before);
    expect(line).toMatchObject({ level: 'warn', reason: 'not_tls', direction: 'inbound' });
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('counted both, forwarded nothing', async () => {
    expect(await metric(mesh.server.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'not_tls' })).toBe(2);
    expect(appConnections).toBe(0);
  });
});
