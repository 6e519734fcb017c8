// A Node.js whose server TLS sockets no longer name their TCP socket (`_parent`, common/node-internals.ts): the
// inbound says so once, with the stable code node_internals_changed, and keeps serving; nothing is logged or
// counted as a handshake timeout (which is what every connection would have become).
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, echoApp, metric, portOf, readAll, startMesh } from '../helpers/datapath.js';

describe('inbound on a Node.js without TLSSocket#_parent', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    // Every TLSSocket made from now on reads `_parent` as null, as a net.Socket without a parent does.
    Object.defineProperty(tls.TLSSocket.prototype, '_parent', { configurable: true, get: () => null, set: () => {} });
    app = await echoApp();
    mesh = await startMesh({ app, inbound: { handshakeTimeout: '2s' } });
  });
  afterAll(async () => {
    await mesh?.close();
    await app?.close();
    // Sockets made under the patch have no `_parent` of their own (a pooled tunnel connection may still be closing):
    // they read null from the prototype, as a socket without a parent does; later sockets set their own.
    Object.defineProperty(tls.TLSSocket.prototype, '_parent', { configurable: true, writable: true, value: null });
  });

  it('serves every connection and logs node_internals_changed once, never handshake_timeout', async () => {
    for (const text of ['first', 'second']) {
      const s = await connect(portOf(mesh.outbound.address));
      const reply = readAll(s);
      s.end(text);
      expect((await reply).data.toString()).toBe(text);
    }
    const changed = mesh.server.logs.lines.filter((l) => l.code === 'node_internals_changed');
    expect(changed).toEqual([expect.objectContaining({ level: 'error', err: expect.stringContaining('_parent') })]);
    expect(mesh.server.logs.refusals()).toEqual([]);
    expect(await metric(mesh.server.registry, 'ztmesh_connections_total', { direction: 'inbound', result: 'accepted' })).toBe(2);
    expect(await metric(mesh.server.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'handshake_timeout' })).toBe(0);
  });
});
