// The shared setup of the inbound refusal scenarios: an inbound listener of `api` in front of an app
// that answers "pong:<request>" and closes, plus a mesh client (outbound of `web`) to show it keeps serving.
import { expect } from 'vitest';
import { connect, echoApp, metric, portOf, readAll, sidecarShared, startMesh, tcpServer, type LogCapture } from './datapath.js';
import { PemDir } from './openssl.js';

export async function inboundScenario(inbound: Record<string, unknown> = {}) {
  const app = await tcpServer((s) => {
    s.on('error', () => {});
    s.once('data', (d: Buffer) => s.end(`pong:${d.toString().trim()}\n`));
  });
  const mesh = await startMesh({ app, inbound });
  const pem = new PemDir();
  const caFile = pem.ca(mesh.ca);
  return {
    app, mesh, pem, caFile, port: portOf(mesh.inbound.address),
    logs: mesh.server.logs as LogCapture,
    /** The listener still serves a legitimate mesh client after the refusal. */
    async assertKeepsServing(): Promise<void> {
      const s = await connect(portOf(mesh.outbound.address));
      const r = readAll(s);
      s.write('still-there');
      const { data } = await r;
      expect(data.toString()).toBe('pong:still-there\n');
    },
    failures: (reason: string) => metric(mesh.server.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason }),
    async close() {
      await mesh.close();
      await app.close();
      pem.remove();
    },
  };
}

export { echoApp, sidecarShared };
