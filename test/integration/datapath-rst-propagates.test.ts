// An RST from the app crosses the mesh: the client sees ECONNRESET, not a clean EOF; and the reverse.
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, portOf, readAllOrReset, startMesh, tcpServer } from '../helpers/datapath.js';

describe('RST propagation', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('resets the client when the app resets its connection', async () => {
    const app = await tcpServer((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const mesh = await startMesh({ app });
    cleanups.push(() => app.close(), () => mesh.close());
    const s = await connect(portOf(mesh.outbound.address));
    const r = readAllOrReset(s);
    s.write('trigger');
    const { error } = await r;
    expect(error?.code).toBe('ECONNRESET');
  });

  it('resets the app when the client resets its connection', async () => {
    let appSide!: (e: string) => void;
    const appSaw = new Promise<string>((r) => (appSide = r));
    const app = await tcpServer((s) => {
      s.on('error', (e: NodeJS.ErrnoException) => appSide(e.code ?? 'error'));
      s.on('end', () => appSide('end'));
      s.once('data', () => s.write('ack'));
    });
    const mesh = await startMesh({ app });
    cleanups.push(() => app.close(), () => mesh.close());
    const s: net.Socket = await connect(portOf(mesh.outbound.address));
    s.write('hello');
    await new Promise((r) => s.once('data', r));
    s.resetAndDestroy();
    expect(await appSaw).toBe('ECONNRESET');
  });
});
