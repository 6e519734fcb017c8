// The shared admin HTTP server over real sockets on port 0: the policy wired in, one throttled log line per
// refusal, the remote-bind opt-in, and what one client can hold (connections, header bytes, bodies, time).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, text, type AdminLimits, type Exposure, type RunningHttpServer } from '../../../src/admin/http-server.js';
import { ConfigError } from '../../../src/common/errors.js';
import { adminRequest, rawExchange } from '../../helpers/admin-http.js';
import { LogCapture } from '../../helpers/datapath.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const ADMIN: Exposure = { kind: 'admin', remote: { allowed: false, key: '--admin-allow-remote' } };
let servers: RunningHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** Waits until the server holds exactly n connections (accepting and closing are asynchronous). */
async function connections(s: RunningHttpServer, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const have = await new Promise<number>((resolve) => s.server.getConnections((_e, c) => resolve(c)));
    if (have === n) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`the server never held ${n} connections`);
}

async function start(opts: { exposure?: Exposure; host?: string; limits?: Partial<AdminLimits> } = {}) {
  const logs = new LogCapture();
  const clock = new FakeClock();
  let rotations = 0;
  const server = await startHttpServer({
    host: opts.host ?? '127.0.0.1', port: 0, log: logs.log, what: 'admin', clock, exposure: opts.exposure ?? ADMIN,
    routes: {
      'GET /healthz': () => text(200, 'ok\n'),
      'POST /rotate': () => { rotations++; return text(200, 'rotated\n'); },
    },
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  servers.push(server);
  return { server, logs, clock, base: `http://127.0.0.1:${server.port}`, rotations: () => rotations };
}

describe('admin HTTP server', () => {
  it('refuses a forged Host with 403 and a JSON code, logs one line naming the peer and the header, and closes', async () => {
    const s = await start();
    const r = await adminRequest(s.base, { path: '/healthz', headers: { Host: 'evil.example:15000' } });
    expect(r.status).toBe(403);
    expect(r.headers.connection).toBe('close');
    expect(JSON.parse(r.body)).toEqual({ error: { code: 'host_not_allowed', message: expect.stringContaining('host "evil.example:15000"') } });
    const line = await s.logs.waitFor((l) => l.msg === 'admin request refused');
    expect(line).toMatchObject({ level: 'warn', code: 'host_not_allowed', header: 'host', value: 'evil.example:15000', method: 'GET', target: '/healthz' });
    expect(line.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await adminRequest(s.base, { path: '/healthz' })).status).toBe(200);
  });

  it('runs a state-changing route only for requests the policy allows', async () => {
    const s = await start();
    expect((await adminRequest(s.base, { method: 'POST', path: '/rotate', headers: { Origin: 'http://evil.example' } })).status).toBe(403);
    expect((await adminRequest(s.base, { method: 'POST', path: '/rotate', headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(403);
    expect((await adminRequest(s.base, { method: 'POST', path: '/rotate', headers: { 'Content-Type': 'text/plain' }, body: 'x' })).status).toBe(403);
    expect(s.rotations()).toBe(0);
    expect((await adminRequest(s.base, { method: 'POST', path: '/rotate' })).status).toBe(200);
    expect(s.rotations()).toBe(1);
  });

  it('answers a CORS preflight without any Access-Control header, so the browser sends nothing after it', async () => {
    const s = await start();
    const r = await adminRequest(s.base, { method: 'OPTIONS', path: '/rotate', headers: { Host: `127.0.0.1:${s.server.port}`, Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(r.status).toBe(405);
    expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('writes at most 20 refusal lines per window, then says how many it dropped', async () => {
    const s = await start();
    for (let i = 0; i < 30; i++) expect((await adminRequest(s.base, { path: '/healthz', headers: { Host: 'evil.example' } })).status).toBe(403);
    await s.clock.advance(10_000);
    expect((await adminRequest(s.base, { path: '/healthz', headers: { Host: 'evil.example' } })).status).toBe(403);
    const last = await s.logs.waitFor((l) => l.suppressed !== undefined);
    expect(last.suppressed).toBe(10);
    expect(s.logs.lines.filter((l) => l.msg === 'admin request refused')).toHaveLength(21);
  });

  it('an admin beyond loopback needs the opt-in: without it startup fails naming the key; with it, it warns once', async () => {
    const err = await start({ host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('admin_remote_not_allowed');
    expect((err as ConfigError).message).toContain('--admin-allow-remote');
    const s = await start({ host: '0.0.0.0', exposure: { kind: 'admin', remote: { allowed: true, key: '--admin-allow-remote' } } });
    expect(s.logs.lines.filter((l) => l.level === 'warn' && String(l.msg).includes('non-loopback'))).toHaveLength(1);
    const health = await start({ host: '0.0.0.0', exposure: { kind: 'health' } });
    expect(health.logs.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });
});

describe('what one admin client can hold', () => {
  it('closes a silent connection and one that never finishes its headers after headersTimeout', async () => {
    const s = await start({ limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, checkIntervalMs: 50 } });
    const t0 = Date.now();
    const [silent, partial] = await Promise.all([
      new Promise<number>((resolve) => net.connect(s.server.port, '127.0.0.1').on('close', () => resolve(Date.now() - t0)).on('error', () => {}).resume()),
      new Promise<number>((resolve) => {
        const c = net.connect(s.server.port, '127.0.0.1', () => c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
        c.on('close', () => resolve(Date.now() - t0)).on('error', () => {}).resume();
      }),
    ]);
    expect(silent).toBeLessThan(3_000);
    expect(partial).toBeLessThan(3_000);
    await s.logs.waitFor((l) => l.code === 'request_timeout');
  });

  it('answers oversized headers with 431 and a declared body above the limit with 413, and closes after any body', async () => {
    const s = await start();
    expect((await rawExchange(s.server.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ${'a'.repeat(9_000)}\r\n\r\n`)).statuses).toEqual([431]);
    expect((await rawExchange(s.server.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-A: 1\r\n'.repeat(70)}\r\n`)).statuses).toEqual([431]);
    expect((await rawExchange(s.server.port, 'POST /rotate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n')).statuses).toEqual([413]);
    // A chunked body that never ends: answered, then the connection is closed rather than drained.
    const r = await adminRequest(s.base, { method: 'POST', path: '/rotate', headers: { 'Transfer-Encoding': 'chunked' }, body: 'x' });
    expect(r.status).toBe(200);
    expect(r.headers.connection).toBe('close');
    expect(s.rotations()).toBe(1);
  });

  it('caps open connections: past the cap new ones are closed unanswered and logged; below it service resumes', async () => {
    const s = await start({ limits: { maxConnections: 4 } });
    const held = await Promise.all(Array.from({ length: 4 }, () => new Promise<net.Socket>((resolve) => {
      const c = net.connect(s.server.port, '127.0.0.1', () => resolve(c));
    })));
    await connections(s.server, 4);
    const refused = await rawExchange(s.server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(refused.statuses).toEqual([]);
    await s.logs.waitFor((l) => l.code === 'connection_limit');
    for (const c of held) c.destroy();
    await connections(s.server, 0);
    expect((await adminRequest(s.base, { path: '/healthz' })).status).toBe(200);
  });
  it('caps open connections per source address: one client past its share is closed, another address is served', async () => {
    const s = await start({ limits: { maxConnectionsPerSource: 2 } });
    const held = await Promise.all(Array.from({ length: 2 }, () => new Promise<net.Socket>((resolve) => {
      const c = net.connect(s.server.port, '127.0.0.1', () => resolve(c));
    })));
    await connections(s.server, 2);
    const refused = await rawExchange(s.server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(refused.statuses).toEqual([]);
    await s.logs.waitFor((l) => l.code === 'source_connection_limit' && String(l.peer).startsWith('127.0.0.1:'));
    // The same server from another loopback source address still answers.
    const other = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ port: s.server.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => c.end('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
      let got = '';
      c.on('data', (d) => { got += d.toString(); });
      c.on('close', () => resolve(got.split('\r\n')[0]!));
      c.on('error', reject);
    });
    expect(other).toBe('HTTP/1.1 200 OK');
    for (const c of held) c.destroy();
    await connections(s.server, 0);
    expect((await adminRequest(s.base, { path: '/healthz' })).status).toBe(200);
  });
});
