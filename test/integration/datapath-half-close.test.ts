// Half-close crosses the mesh both ways: the client ends its side, the app still sees EOF, replies and ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, portOf, readAll, startMesh, tcpServer } from '../helpers/datapath.js';

describe('half-close', () => {
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    // The app replies only after it has read the whole request to EOF, then ends its side.
    app = await tcpServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => {
        const req = Buffer.concat(chunks).toString();
        setImmediate(() => s.end(`got ${req.length} bytes: ${req.toUpperCase()}`));
      });
    });
    mesh = await startMesh({ app });
  });
  afterAll(async () => {
    await mesh.close();
    await app.close();
  });

  it('delivers EOF to the app and the full reply to the client after the client ends', async () => {
    const s = await connect(portOf(mesh.outbound.address));
    const reply = readAll(s);
    s.write('hello ');
    s.end('mesh');
    const { data, error } = await reply;
    expect(error).toBeUndefined();
    expect(data.toString()).toBe('got 10 bytes: HELLO MESH');
  });

  it('lets the app end first while the client keeps sending', async () => {
    await app.close();
    const early = await tcpServer((s) => {
      s.end('bye early');
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => received.resolve(Buffer.concat(chunks).toString()));
    });
    let resolveFn!: (v: string) => void;
    const received = { promise: new Promise<string>((r) => (resolveFn = r)), resolve: (v: string) => resolveFn(v) };
    const m2 = await startMesh({ app: early });
    try {
      const s = await connect(portOf(m2.outbound.address));
      const ended = new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        s.on('data', (d: Buffer) => chunks.push(d));
        s.once('end', () => resolve(Buffer.concat(chunks).toString()));
      });
      expect(await ended).toBe('bye early');
      // Our write side is still open after the server's EOF.
      s.end('still talking');
      expect(await received.promise).toBe('still talking');
    } finally {
      await m2.close();
      await early.close();
    }
  });
});
