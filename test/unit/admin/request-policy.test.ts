// The admin request policy as a table: which Host, Origin, Sec-Fetch-Site and Content-Type each server kind accepts.
import { describe, expect, it } from 'vitest';
import { decideAdminRequest, ownOrigin, targetPath, type AdminRequest, type PolicyTarget } from '../../../src/admin/request-policy.js';

const LIMITS = { maxHeaders: 64, maxBodyBytes: 4096 };
const ADMIN: PolicyTarget = { kind: 'admin', host: '127.0.0.1' };
const HEALTH: PolicyTarget = { kind: 'health', host: '0.0.0.0' };

function req(method: string, target: string, headers: Record<string, string | string[]> = {}, over: Partial<AdminRequest> = {}): AdminRequest {
  const rawHeaders = Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, v]));
  return { method, target, httpVersion: '1.1', rawHeaders, localAddress: '127.0.0.1', ...over };
}
const decide = (r: AdminRequest, t = ADMIN) => decideAdminRequest(r, t, LIMITS);
const codeOf = (r: AdminRequest, t = ADMIN) => {
  const d = decide(r, t);
  return d.allow ? 'allow' : d.code;
};

describe('Host (DNS rebinding)', () => {
  it.each([
    ['127.0.0.1:15000', 'allow'], ['127.9.8.7', 'allow'], ['localhost:15000', 'allow'], ['LOCALHOST', 'allow'],
    ['[::1]:15000', 'allow'], ['[0:0:0:0:0:0:0:1]', 'allow'], ['[::ffff:127.0.0.1]:15000', 'allow'],
    ['evil.example:15000', 'host_not_allowed'], ['evil.example', 'host_not_allowed'], ['localhost.evil.example', 'host_not_allowed'],
    ['127.0.0.1.nip.io', 'host_not_allowed'], ['localhost.', 'host_not_allowed'], ['10.1.2.3:15000', 'host_not_allowed'],
    ['0.0.0.0:15000', 'host_not_allowed'], ['127.1', 'host_not_allowed'], ['user@127.0.0.1', 'host_not_allowed'],
    ['127.0.0.1:15000:1', 'host_not_allowed'], ['127.0.0.1 evil', 'host_not_allowed'], ['', 'host_not_allowed'], ['[evil]', 'host_not_allowed'],
    ['127.0.0.1:99999', 'host_not_allowed'],
  ])('GET /status with Host %j → %s', (host, expected) => {
    expect(codeOf(req('GET', '/status', { Host: host }))).toBe(expected);
  });

  it('refuses a forged Host on every path, probes included', () => {
    for (const path of ['/healthz', '/readyz', '/status', '/metrics', '/certs', '/nope']) {
      expect(codeOf(req('GET', path, { Host: 'evil.example:15000' }))).toBe('host_not_allowed');
      expect(codeOf(req('GET', path, { Host: 'evil.example:15021' }), HEALTH)).toBe('host_not_allowed');
    }
  });

  it('lets probes (GET /healthz, /readyz) through with the pod IP as Host, and nothing else on an admin', () => {
    for (const host of ['10.1.2.3:15010', '[fd00::5]:15010']) {
      expect(codeOf(req('GET', '/healthz', { Host: host }))).toBe('allow');
      expect(codeOf(req('GET', '/readyz?verbose=1', { Host: host }))).toBe('allow');
      expect(codeOf(req('GET', '/metrics', { Host: host }))).toBe('host_not_allowed');
      expect(codeOf(req('POST', '/healthz', { Host: host }))).toBe('host_not_allowed');
    }
  });

  it('a health server answers any IP-literal Host on every route (the kubelet and Prometheus use the pod IP)', () => {
    expect(codeOf(req('GET', '/readyz', { Host: '10.1.2.3:15021' }), HEALTH)).toBe('allow');
    expect(codeOf(req('GET', '/metrics', { Host: '10.1.2.3:15021' }), HEALTH)).toBe('allow');
    expect(codeOf(req('GET', '/metrics', { Host: 'pod.evil.example:15021' }), HEALTH)).toBe('host_not_allowed');
  });

  it('accepts the configured admin address, and the address the connection reached on a wildcard bind', () => {
    expect(codeOf(req('GET', '/status', { Host: 'admin.internal:15000' }), { kind: 'admin', host: 'admin.internal' })).toBe('allow');
    expect(codeOf(req('GET', '/status', { Host: '[fd00::0:5]:15000' }), { kind: 'admin', host: 'fd00::5' })).toBe('allow');
    const wildcard: PolicyTarget = { kind: 'admin', host: '0.0.0.0' };
    expect(codeOf(req('GET', '/metrics', { Host: '10.1.2.3:15010' }, { localAddress: '10.1.2.3' }), wildcard)).toBe('allow');
    expect(codeOf(req('GET', '/metrics', { Host: '10.1.2.3:15010' }, { localAddress: '::ffff:10.1.2.3' }), wildcard)).toBe('allow');
    expect(codeOf(req('GET', '/metrics', { Host: '10.9.9.9:15010' }, { localAddress: '10.1.2.3' }), wildcard)).toBe('host_not_allowed');
    expect(codeOf(req('GET', '/metrics', { Host: '0.0.0.0:15010' }, { localAddress: '10.1.2.3' }), wildcard)).toBe('host_not_allowed');
  });

  it('refuses two Host headers; lets HTTP/1.0 without Host through (no browser omits Host)', () => {
    const dup = decide(req('GET', '/status', { Host: ['127.0.0.1', 'evil.example'] }));
    expect(dup).toMatchObject({ allow: false, status: 403, code: 'host_not_allowed', header: 'host', value: '127.0.0.1, evil.example' });
    expect(codeOf(req('GET', '/status', {}, { httpVersion: '1.0' }))).toBe('allow');
  });
});

describe('state-changing requests (POST /rotate)', () => {
  const H = { Host: '127.0.0.1:15000' };
  it.each([
    [{}, 'allow'],
    [{ Origin: 'http://127.0.0.1:15000' }, 'allow'],
    [{ 'Sec-Fetch-Site': 'same-origin' }, 'allow'],
    [{ 'Sec-Fetch-Site': 'none' }, 'allow'],
    [{ 'Content-Type': 'application/json' }, 'allow'],
    [{ Origin: 'http://evil.example' }, 'origin_not_allowed'],
    [{ Origin: 'null' }, 'origin_not_allowed'],
    [{ Origin: 'http://127.0.0.1:3000' }, 'origin_not_allowed'],
    [{ Origin: 'https://127.0.0.1:15000' }, 'origin_not_allowed'],
    [{ Origin: 'http://localhost:15000' }, 'origin_not_allowed'],
    [{ Origin: ['http://127.0.0.1:15000', 'http://evil.example'] }, 'origin_not_allowed'],
    [{ 'Sec-Fetch-Site': 'cross-site' }, 'cross_site'],
    [{ 'Sec-Fetch-Site': 'same-site' }, 'cross_site'],
    [{ 'Sec-Fetch-Site': 'Cross-Site' }, 'cross_site'],
    [{ 'Sec-Fetch-Site': 'something-new' }, 'cross_site'],
    [{ 'Content-Type': 'text/plain' }, 'form_content_type'],
    [{ 'Content-Type': 'TEXT/PLAIN; charset=utf-8' }, 'form_content_type'],
    [{ 'Content-Type': 'application/x-www-form-urlencoded' }, 'form_content_type'],
    [{ 'Content-Type': 'multipart/form-data; boundary=x' }, 'form_content_type'],
  ])('POST /rotate with %j → %s', (headers, expected) => {
    expect(codeOf(req('POST', '/rotate', { ...H, ...headers }))).toBe(expected);
  });

  it('the issue\'s attack (Origin evil.example, text/plain body) is refused, naming the Origin', () => {
    const d = decide(req('POST', '/rotate', { ...H, Origin: 'http://evil.example', 'Content-Type': 'text/plain', 'Content-Length': '1' }));
    expect(d).toMatchObject({ allow: false, status: 403, code: 'origin_not_allowed', header: 'origin', value: 'http://evil.example' });
  });

  it('reads (GET, HEAD, OPTIONS) are not judged by Origin or Sec-Fetch-Site: the browser cannot read them cross-origin', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS']) {
      expect(codeOf(req(m, '/status', { ...H, Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'text/plain' }))).toBe('allow');
    }
  });

  it('an Origin without a Host cannot match this admin', () => {
    expect(codeOf(req('POST', '/rotate', { Origin: 'http://127.0.0.1:15000' }, { httpVersion: '1.0' }))).toBe('origin_not_allowed');
  });
});

describe('size limits', () => {
  it('refuses a declared body above the limit (413) and header counts that may have been cut (431)', () => {
    expect(decide(req('POST', '/rotate', { Host: '127.0.0.1', 'Content-Length': '4097' }))).toMatchObject({ allow: false, status: 413, code: 'body_too_large' });
    expect(codeOf(req('POST', '/rotate', { Host: '127.0.0.1', 'Content-Length': '4096' }))).toBe('allow');
    const many = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`x-${i}`, '1']));
    expect(codeOf(req('GET', '/status', { Host: '127.0.0.1', ...many }))).toBe('too_many_headers');
    delete many['x-0'];
    expect(codeOf(req('GET', '/status', { Host: '127.0.0.1', ...many }))).toBe('allow');
  });

  it('quotes at most 120 characters of an offending value', () => {
    const d = decide(req('GET', '/status', { Host: `${'a'.repeat(500)}.example` }));
    expect(d.allow).toBe(false);
    if (!d.allow) expect(d.value.length).toBeLessThanOrEqual(121);
  });
});

describe('helpers', () => {
  it('targetPath keeps origin-form paths only; ownOrigin elides the default port', () => {
    expect(targetPath('/rotate?x=1')).toBe('/rotate');
    expect(targetPath('http://evil.example/rotate')).toBeUndefined();
    expect(targetPath('*')).toBeUndefined();
    expect(ownOrigin('127.0.0.1:80')).toBe('http://127.0.0.1');
    expect(ownOrigin('[::1]:15000')).toBe('http://[::1]:15000');
    expect(ownOrigin('bad host')).toBeUndefined();
  });
});
