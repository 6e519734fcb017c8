// Property-based fuzzing of the admin HTTP handling over real sockets: arbitrary methods, targets, versions, headers
// (Host, Origin, Sec-Fetch-Site, Content-Type, odd bytes) never get a 5xx or stop the server, and POST /rotate runs
// only for requests an independent statement of the rules allows; for well-formed requests it runs exactly then.
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../../src/admin/http-server.js';
import { adminRoutes, type SidecarAdmin } from '../../../src/admin/sidecar-admin.js';
import type { SidecarStatus } from '../../../src/admin/status-types.js';
import { silentLogger } from '../../../src/common/logger.js';
import { adminRequest, rawExchange } from '../../helpers/admin-http.js';
import { FakeClock } from '../../helpers/fake-clock.js';

interface Seen { method: string; url: string; rawHeaders: string[] }
let server: RunningHttpServer;
let seen: Seen[] = [];

beforeAll(async () => {
  const admin: SidecarAdmin = {
    status: () => ({ identity: { state: 'available' } } as unknown as SidecarStatus),
    readiness: () => ({ ready: true, pending: [] }),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'x 1\n' }),
    certs: () => ({ chainPem: '', bundlePem: '' }),
    rotate: async () => ({ ok: true, serial: '01', notAfter: '2030-01-01T00:00:00.000Z' }),
  };
  const routes = adminRoutes(admin);
  const rotate = routes['POST /rotate']!;
  routes['POST /rotate'] = (req) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders] });
    return rotate(req);
  };
  server = await startHttpServer({
    host: '127.0.0.1', port: 0, routes, log: silentLogger(), what: 'admin', clock: new FakeClock(),
    exposure: { kind: 'admin', remote: { allowed: false, key: '--admin-allow-remote' } },
  });
});
afterAll(async () => { await server?.close(); });

// The rules, stated again without the implementation: who may rotate.
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
function loopbackHost(value: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(value);
  if (!m || Number(m[3] ?? 0) > 65535) return false;
  if (m[2] !== undefined) return m[2].toLowerCase() === 'localhost' || (isIP(m[2]) === 4 && LOOPBACK.check(m[2], 'ipv4'));
  return isIP(m[1]!) === 6 && LOOPBACK.check(m[1]!, 'ipv6');
}
function mayRotate(rawHeaders: readonly string[]): boolean {
  const all = (name: string) => {
    const out: string[] = [];
    // HTTP drops the whitespace around a field value, as Node does before the server sees it.
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) out.push(rawHeaders[i + 1]!.trim());
    return out;
  };
  const hosts = all('host');
  if (hosts.length > 1 || (hosts.length === 1 && !loopbackHost(hosts[0]!))) return false;
  const origins = all('origin');
  if (origins.length > 1) return false;
  if (origins.length === 1 && (hosts.length === 0 || origins[0] !== new URL(`http://${hosts[0]}`).origin)) return false;
  if (all('sec-fetch-site').some((s) => !['same-origin', 'none'].includes(s.trim().toLowerCase()))) return false;
  if (all('content-type').some((t) => ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'].includes(t.split(';')[0]!.trim().toLowerCase()))) return false;
  return true;
}

/** Mostly the values that matter, sometimes anything: fast-check's oneof with weights. */
const mostly = <T>(likely: fc.Arbitrary<T>, other: fc.Arbitrary<T>) => fc.oneof({ arbitrary: likely, weight: 4 }, { arbitrary: other, weight: 1 });
const hostValues = () => mostly(
  fc.constantFrom('127.0.0.1', '127.0.0.1:15000', 'localhost:15000', 'LOCALHOST', '[::1]:15000', '[::ffff:127.0.0.1]', '127.9.9.9:1',
    'evil.example', 'evil.example:15000', 'localhost.evil.example', '10.1.2.3:15000', '0.0.0.0', '[::]', '', ' 127.0.0.1', '127.0.0.1:', '127.0.0.1:99999'),
  fc.string({ maxLength: 30 }),
);
const originValues = () => mostly(
  fc.constantFrom('http://127.0.0.1:15000', 'http://127.0.0.1', 'http://localhost:15000', 'http://evil.example', 'null', 'https://127.0.0.1:15000', ''),
  fc.string({ maxLength: 30 }),
);
const fetchSites = () => mostly(fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none', 'CROSS-SITE', ''), fc.string({ maxLength: 12 }));
const contentTypes = () => mostly(
  fc.constantFrom('text/plain', 'Text/Plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json', ''),
  fc.string({ maxLength: 30 }),
);
const header = (odd: boolean): fc.Arbitrary<[string, string]> => fc.oneof(
  fc.tuple(fc.constant('Host'), hostValues()),
  fc.tuple(fc.constant('Origin'), originValues()),
  fc.tuple(fc.constant('Sec-Fetch-Site'), fetchSites()),
  fc.tuple(fc.constant('Content-Type'), contentTypes()),
  fc.tuple(fc.constantFrom('Content-Length', 'Transfer-Encoding', 'Connection', 'Expect', 'Upgrade', 'X-Forwarded-Host'),
    fc.constantFrom('0', '5', '99999999', '-1', 'chunked', 'close', 'keep-alive', '100-continue', 'websocket', 'evil.example')),
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), fc.stringMatching(/^[ -~]{0,20}$/)),
  ...(odd ? [fc.tuple(fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 20 }))] : []),
);
const methods = mostly(fc.constant('POST'), fc.oneof(fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'post', 'P0ST'), fc.stringMatching(/^[A-Z]{1,8}$/)));
const targets = mostly(
  fc.constantFrom('/rotate', '/rotate?x=1'),
  fc.oneof(fc.constantFrom('/status', '/healthz', '/readyz', '/metrics', '/certs', '/', '*', 'http://evil.example/rotate', '//rotate', '/rotate/', '/%72otate'),
    fc.stringMatching(/^\/[!-~]{0,20}$/)),
);

/** A request as bytes; `odd` lets any byte into names, values and the request line now and then. */
const requests = (odd: boolean) => fc.record({
  method: odd ? mostly(methods, fc.string({ unit: 'binary', maxLength: 8 })) : methods,
  target: odd ? mostly(targets, fc.string({ unit: 'binary', maxLength: 20 })) : targets,
  version: odd ? mostly(fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), fc.constantFrom('HTTP/1.2', 'HTTP/2.0', 'HTTP/1.1 x', '')) : fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
  host: fc.option(hostValues(), { freq: 4 }),
  headers: fc.array(header(odd), { maxLength: 6 }),
  body: fc.string({ maxLength: 20 }),
});

function bytesOf(r: { method: string; target: string; version: string; host: string | null; headers: [string, string][]; body: string }): Buffer {
  const headers = r.host === null ? r.headers : [['Host', r.host], ...r.headers];
  const head = `${r.method} ${r.target} ${r.version}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(r.body, 'latin1')]);
}

describe('admin HTTP handling under arbitrary input', () => {
  it('never answers 5xx, never stops serving, and rotates only for requests the rules allow', async () => {
    const statuses = new Set<number>();
    await fc.assert(fc.asyncProperty(requests(true), async (r) => {
      seen = [];
      const answer = await rawExchange(server.port, bytesOf(r));
      expect(answer.statuses.filter((s) => s >= 500)).toEqual([]);
      answer.statuses.forEach((s) => statuses.add(s));
      for (const s of seen) expect(mayRotate(s.rawHeaders), JSON.stringify(s)).toBe(true);
    }), {
      numRuns: 400,
      // Seeds that always reach the parser's refusal (400), the policy's (403) and an unknown route (404), so the
      // check below does not depend on what the random runs happened to draw.
      examples: [
        [{ method: 'GET', target: '/status', version: 'HTTP/1.2', host: '127.0.0.1', headers: [], body: '' }],
        [{ method: 'POST', target: '/rotate', version: 'HTTP/1.1', host: 'evil.example:15000', headers: [], body: '' }],
        [{ method: 'GET', target: '/no-such-path', version: 'HTTP/1.1', host: '127.0.0.1', headers: [], body: '' }],
      ],
    });
    // Not vacuous: the input reached the parser's refusals, the policy's and the routes.
    for (const s of [400, 403, 404]) expect(statuses).toContain(s);
    expect((await adminRequest(`http://127.0.0.1:${server.port}`, { path: '/healthz' })).status).toBe(200);
  });

  it('for well-formed requests, rotates exactly when the method is POST, the path /rotate and the rules allow it', async () => {
    let allowed = 0;
    let refused = 0;
    await fc.assert(fc.asyncProperty(requests(false), async (r) => {
      seen = [];
      // Declare the body honestly so each connection carries exactly one request.
      const headers = r.headers.filter(([k]) => !['content-length', 'transfer-encoding', 'expect', 'connection', 'upgrade'].includes(k.toLowerCase()));
      const withLength: [string, string][] = [...headers, ['Content-Length', String(Buffer.byteLength(r.body, 'latin1'))]];
      const hasHost = r.host !== null || headers.some(([k]) => k.toLowerCase() === 'host');
      const answer = await rawExchange(server.port, bytesOf({ ...r, headers: withLength }));
      expect(answer.statuses.filter((s) => s >= 500)).toEqual([]);
      const raw = [...(r.host === null ? [] : ['Host', r.host]), ...withLength.flat()];
      const isRotate = r.method === 'POST' && /^\/rotate(\?|$)/.test(r.target);
      // HTTP/1.1 without Host is Node's 400; a body above the limit is 413; otherwise the rules decide.
      const expected = isRotate && (hasHost || r.version === 'HTTP/1.0') && mayRotate(raw);
      expect(seen.length, `${r.method} ${r.target} ${JSON.stringify(withLength)} → ${answer.statuses.join(',')}`).toBe(expected ? 1 : 0);
      if (isRotate) (expected ? allowed++ : refused++);
    }), { numRuns: 300 });
    expect(allowed).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
