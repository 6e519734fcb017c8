// Client → outbound sidecar → inbound sidecar → echo app: bytes arrive intact both ways (0 B, 1 B, 64 MiB).
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, echoApp, metric, portOf, readAll, startMesh } from '../helpers/datapath.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('data path end to end', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app });
  });
  afterAll(async () => {
    await mesh.close();
    await app.close();
  });

  for (const size of [0, 1, 64 * 1024 * 1024]) {
    it(`carries ${size} bytes to the app and back unchanged`, async () => {
      const payload = randomBytes(size);
      const s = await connect(portOf(mesh.outbound.address));
      const reply = readAll(s);
      s.end(payload);
      const { data, error } = await reply;
      expect(error).toBeUndefined();
      expect(data.length).toBe(size);
      expect(sha(data)).toBe(sha(payload));
    });
  }

  it('counts accepted connections on both sides and refuses none', async () => {
    expect(await metric(mesh.client.registry, 'ztmesh_connections_total', { direction: 'outbound', result: 'accepted' })).toBe(3);
    expect(await metric(mesh.server.registry, 'ztmesh_connections_total', { direction: 'inbound', result: 'accepted' })).toBe(3);
    expect(mesh.server.logs.refusals()).toEqual([]);
    expect(mesh.client.logs.refusals()).toEqual([]);
    // No per-connection info lines: accepted connections log at debug only.
    expect(mesh.server.logs.lines.filter((l) => l.level === 'info' && /forwarded|established/.test(String(l.msg)))).toEqual([]);
    expect(mesh.inbound.reporter.counters).toMatchObject({ connectionsTotal: 3, denied: 0 });
  });
});
