// listenOn: the one place a listener binds; a taken port is `port_in_use` naming the listener, anything else
// `listen_failed`, and the bound address comes back with the real port for port 0.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenErrno, listenOn } from '../../../src/common/listen.js';

const servers: net.Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });
const server = <T extends net.Server>(s: T): T => { servers.push(s); return s; };

describe('listenOn', () => {
  it('binds and resolves with the bound address, for any net.Server', async () => {
    const a = await listenOn(server(net.createServer()), { host: '127.0.0.1', port: 0 }, 'inbound api:');
    expect(a).toMatch(/^127\.0\.0\.1:\d+$/);
    const b = await listenOn(server(http.createServer()), { host: '127.0.0.1', port: 0 }, 'admin:');
    expect(b).not.toBe(a);
  });

  it('a taken port fails with port_in_use naming the listener; the server can still listen elsewhere', async () => {
    const taken = await listenOn(server(net.createServer()), { host: '127.0.0.1', port: 0 }, 'first:');
    const port = Number(taken.split(':')[1]);
    const second = server(net.createServer());
    const err = await listenOn(second, { host: '127.0.0.1', port }, '--listen').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'port_in_use', message: `--listen 127.0.0.1:${port} is already in use` });
    expect(listenErrno(err)).toBe('EADDRINUSE');
    await expect(listenOn(second, { host: '127.0.0.1', port: 0 }, '--listen')).resolves.toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('any other failure is listen_failed with the errno behind it', async () => {
    const err = await listenOn(server(net.createServer()), { host: '192.0.2.1', port: 0 }, 'health:').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'listen_failed', message: expect.stringMatching(/^health: 192\.0\.2\.1:0: /) });
    expect(listenErrno(err)).toBe('EADDRNOTAVAIL');
  });
});
