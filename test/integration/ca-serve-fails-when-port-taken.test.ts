// `ztmesh ca serve` exits non-zero naming the flag and address when the gRPC or admin port is taken.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { initCa } from '../helpers/ca.js';

let dir: string;
let blocker: net.Server;
let port: number;
beforeAll(async () => {
  dir = await initCa();
  blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  port = (blocker.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

describe('ca serve fails when the port is taken', () => {
  it('exits 1 naming --listen and the address', async () => {
    const r = await runCli(['ca', 'serve', '--dir', dir, '--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--listen 127.0.0.1:${port} is already in use`);
  });

  it('exits 1 naming --admin and the address', async () => {
    const r = await runCli(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--admin: 127.0.0.1:${port} is already in use`);
  });
});
