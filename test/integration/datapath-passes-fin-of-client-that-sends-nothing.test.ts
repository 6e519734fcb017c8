// A client that connects and ends at once, before a byte: its FIN still reaches the app, over raw mTLS and over the
// tunnel, and the app's answer comes back. Over raw mTLS the inbound's TLS socket may read that FIN before its bytes
// are handed to the data path's shared buffer; its 'end' is then already past (shared-read.ts), and the app was left
// waiting until the idle timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, portOf, readAll, startMesh, tcpServer } from '../helpers/datapath.js';

describe.each(['off', 'auto'] as const)('a client that ends before sending (tunnel: %s)', (tunnel) => {
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    // The app answers once it has read the request to EOF.
    app = await tcpServer((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => { n += d.length; });
      s.on('end', () => s.end(`got ${n} bytes`));
    });
    mesh = await startMesh({ app, outbound: { tunnel } });
  });
  afterAll(async () => {
    await mesh?.close();
    await app?.close();
  });

  it('delivers its FIN to the app, and the app\'s answer to it', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await connect(portOf(mesh.outbound.address));
      const reply = readAll(s);
      s.end();
      const { data, error } = await reply;
      expect(error).toBeUndefined();
      expect(data.toString()).toBe('got 0 bytes');
    }
  });
});
