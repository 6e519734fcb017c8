// Sidecar config loading: file < env < flags, defaults, frozen result, and errors that name key, value and source.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/common/errors.js';
import { caAddresses, CONFIG_KEYS, loadSidecarConfig } from '../../../src/sidecar/config.js';
import { tempDir } from '../../helpers/temp-dir.js';

const dir = tempDir('ztmesh-config-');
function file(text: string): string {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, text);
  return p;
}
function error(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSidecarConfig', () => {
  it('applies the docs/design.md defaults', () => {
    const c = loadSidecarConfig();
    expect(c.trustDomain).toBe('cluster.local');
    expect(c.ca).toMatchObject({ address: 'localhost:15012', bundle: '/var/run/ztmesh/bundle/roots.pem', tokenFile: '/var/run/secrets/ztmesh/token' });
    expect(c.identity.ttl).toBe(3_600_000);
    expect(c.admin).toBe('127.0.0.1:15000');
    expect(c.health).toBe('0.0.0.0:15021');
    expect(c.transparent.enabled).toBe(false);
  });

  it('layers file < env < flags and freezes the result', () => {
    const f = file('trustDomain: example.org\nca:\n  address: a:1\n  tokenFile: /f/token\nidentity:\n  ttl: 10m\ninbound:\n  - name: api\n    listen: 0.0.0.0:15006\n    forward: 127.0.0.1:8080\n');
    const c = loadSidecarConfig({
      file: f,
      env: { ZTMESH_CA_ADDRESS: 'b:2,c:3', ZTMESH_IDENTITY_TTL: '20m', ZTMESH_TRANSPARENT_ENABLED: 'true', ZTMESH_TRANSPARENT_ALLOW: 'spiffe://example.org/ns/a/*, spiffe://example.org/ns/b/sa/c', HOME: '/x' },
      flags: { ttl: '90s', 'log-level': 'debug' },
    });
    expect(c.trustDomain).toBe('example.org');
    expect(caAddresses(c)).toEqual(['b:2', 'c:3']);
    expect(c.ca.tokenFile).toBe('/f/token');
    expect(c.identity.ttl).toBe(90_000);
    expect(c.logLevel).toBe('debug');
    expect(c.transparent.enabled).toBe(true);
    expect(c.transparent.allow).toEqual(['spiffe://example.org/ns/a/*', 'spiffe://example.org/ns/b/sa/c']);
    expect(c.inbound[0]).toMatchObject({ name: 'api', forward: '127.0.0.1:8080', handshakeTimeout: 10_000 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.ca)).toBe(true);
    expect(Object.isFrozen(c.inbound[0])).toBe(true);
  });

  it('takes listeners as JSON from the environment (as `ztmesh inject` writes them)', () => {
    const c = loadSidecarConfig({ env: { ZTMESH_INBOUND: JSON.stringify([{ name: 'in-8080', listen: '0.0.0.0:15006', forward: '127.0.0.1:8080' }]) } });
    expect(c.inbound).toHaveLength(1);
  });

  it('derives env names and flags from the key paths', () => {
    const byPath = Object.fromEntries(CONFIG_KEYS.map((k) => [k.path, k]));
    expect(byPath['ca.tokenFile']).toMatchObject({ env: 'ZTMESH_CA_TOKEN_FILE', flag: 'token-file' });
    expect(byPath['identity.spiffeId']).toMatchObject({ env: 'ZTMESH_IDENTITY_SPIFFE_ID' });
    expect(byPath['trustDomain']).toMatchObject({ env: 'ZTMESH_TRUST_DOMAIN', flag: 'trust-domain' });
    expect(byPath['ca.address']).toMatchObject({ flag: 'ca-address' });
    expect(byPath['transparent.inboundPort']).toMatchObject({ env: 'ZTMESH_TRANSPARENT_INBOUND_PORT' });
  });

  it.each([
    [{ flags: { ttl: 'soon' } }, /identity\.ttl = "soon" \(from --ttl\): .*not a duration/],
    [{ env: { ZTMESH_ADMIN: 'localhost' } }, /admin = "localhost" \(from ZTMESH_ADMIN\): .*not host:port/],
    [{ env: { ZTMESH_CA_ADDRESS: 'a:1,b' } }, /ca\.address = "a:1,b" \(from ZTMESH_CA_ADDRESS\): .*"b" is not host:port/],
    [{ flags: { 'trust-domain': 'Bad Domain' } }, /trustDomain = "Bad Domain" \(from --trust-domain\)/],
    [{ env: { ZTMESH_TRANSPARENT_INBOUND_PORT: 'x' } }, /transparent\.inboundPort = "x" \(from ZTMESH_TRANSPARENT_INBOUND_PORT\): not a whole number/],
    [{ env: { ZTMESH_LOG_LEVEL: 'loud' } }, /logLevel = "loud" \(from ZTMESH_LOG_LEVEL\)/],
    [{ flags: { 'spiffe-id': 'spiffe://other.org/ns/a/sa/b' } }, /identity\.spiffeId = .*not in trust domain cluster\.local/],
    [{ flags: { ttl: '500ms' } }, /identity\.ttl = 500 .*at least 1s/],
    [{ env: { ZTMESH_TRANSPARENT_OUTBOUND_POLICY: 'allow-all' } }, /transparent\.outboundPolicy = "allow-all" \(from ZTMESH_TRANSPARENT_OUTBOUND_POLICY\)/],
    [{ env: { ZTMESH_TRANSPARENT_INBOUND_MODE: 'lenient' } }, /transparent\.inboundMode = "lenient" \(from ZTMESH_TRANSPARENT_INBOUND_MODE\)/],
    [{ env: { ZTMESH_TRANSPARENT_PASSTHROUGH: '{"cidrs":["10.0.0.0/33"]}' } }, /transparent\.passthrough\.cidrs\[0\] = "10\.0\.0\.0\/33" \(from ZTMESH_TRANSPARENT_PASSTHROUGH\): not an IPv4 or IPv6 CIDR/],
    [{ env: { ZTMESH_TRANSPARENT_DETECTION_TIMEOUT: 'soon' } }, /transparent\.detectionTimeout = "soon"/],
  ])('rejects %j naming the key, value and source', (sources, re) => {
    const e = error(() => loadSidecarConfig(sources as never));
    expect(e.code).toBe('invalid_config');
    expect(e.message).toMatch(re);
  });

  it('names bad keys inside the file, with list indexes', () => {
    const f = file('ca:\n  adress: x:1\ninbound:\n  - name: api\n    listen: nowhere\n    forward: 127.0.0.1:80\n');
    const e = error(() => loadSidecarConfig({ file: f }));
    expect(e.message).toContain('ca.adress');
    expect(e.message).toContain('unknown key');
    expect(e.message).toMatch(/inbound\[0\]\.listen = "nowhere" \(from config file .*\): .*not host:port/);
  });

  it('refuses a non-loopback admin without adminAllowRemote, naming the address, its source and the key', () => {
    for (const sources of [{ flags: { admin: '0.0.0.0:15000' } }, { env: { ZTMESH_ADMIN: '10.1.2.3:15000' } }, { file: file('admin: "[::]:15000"\n') }]) {
      const e = error(() => loadSidecarConfig(sources));
      expect(e.code).toBe('admin_remote_not_allowed');
      expect(e.message).toMatch(/^invalid sidecar configuration: admin \(from (--admin|ZTMESH_ADMIN|config file .*)\) ".*:15000" is not a loopback address/);
      expect(e.message).toContain('adminAllowRemote: true (--admin-allow-remote, ZTMESH_ADMIN_ALLOW_REMOTE=true)');
    }
    expect(loadSidecarConfig({ flags: { admin: 'localhost:15000' } }).adminAllowRemote).toBe(false);
  });

  it('takes adminAllowRemote from the file, ZTMESH_ADMIN_ALLOW_REMOTE or --admin-allow-remote', () => {
    expect(loadSidecarConfig({ file: file('admin: 0.0.0.0:15000\nadminAllowRemote: true\n') }).adminAllowRemote).toBe(true);
    expect(loadSidecarConfig({ env: { ZTMESH_ADMIN: '0.0.0.0:15000', ZTMESH_ADMIN_ALLOW_REMOTE: 'true' } }).admin).toBe('0.0.0.0:15000');
    expect(loadSidecarConfig({ flags: { admin: '0.0.0.0:15000', 'admin-allow-remote': true } }).adminAllowRemote).toBe(true);
    expect(CONFIG_KEYS.find((k) => k.path === 'adminAllowRemote')).toMatchObject({ env: 'ZTMESH_ADMIN_ALLOW_REMOTE', flag: 'admin-allow-remote', kind: 'bool' });
  });

  it('reports a YAML document whose aliases make a cycle as a ConfigError, not a TypeError', () => {
    for (const text of ['inbound: &a [*a]\n', 'ca: &c {address: *c}\n', 'transparent: {expect: &e {a: *e}}\n']) {
      const e = error(() => loadSidecarConfig({ file: file(text) }));
      expect(e.code).toBe('invalid_config');
      expect(e.message).toContain('Circular');
    }
    expect(error(() => loadSidecarConfig({ env: { ZTMESH_INBOUND: '&a [*a]' } })).code).toBe('invalid_config');
  });

  it('reports an unreadable or malformed file', () => {
    expect(error(() => loadSidecarConfig({ file: join(dir, 'missing.yaml') })).code).toBe('config_unreadable');
    expect(error(() => loadSidecarConfig({ file: file('a: [') })).code).toBe('config_invalid_yaml');
    expect(error(() => loadSidecarConfig({ file: file('- 1\n- 2\n') })).code).toBe('config_invalid_yaml');
  });

  it('workloadApi: off by default; socket, uids ("*" too), gids and files from env and flags; bad values named', () => {
    expect(loadSidecarConfig({}).workloadApi).toEqual({});
    const c = loadSidecarConfig({
      env: { ZTMESH_WORKLOAD_API_SOCKET: '/run/ztmesh/api.sock', ZTMESH_WORKLOAD_API_ALLOW_UIDS: '1000,*' },
      flags: { 'workload-api-allow-gids': '2000', 'workload-api-files': '{dir: /run/certs, onRotate: {command: [nginx, -s, reload]}}' },
    });
    expect(c.workloadApi).toEqual({
      socket: '/run/ztmesh/api.sock', allowUids: ['1000', '*'], allowGids: ['2000'],
      files: { dir: '/run/certs', certFile: 'svid.pem', keyFile: 'svid_key.pem', bundleFile: 'svid_bundle.pem', onRotate: { command: ['nginx', '-s', 'reload'] } },
    });
    expect(loadSidecarConfig({ file: file('workloadApi:\n  allowUids: [1000]\n') }).workloadApi.allowUids).toEqual(['1000']);
    expect(error(() => loadSidecarConfig({ env: { ZTMESH_WORKLOAD_API_SOCKET: 'api.sock' } })).message)
      .toContain('workloadApi.socket = "api.sock" (from ZTMESH_WORKLOAD_API_SOCKET): must be an absolute path');
    expect(error(() => loadSidecarConfig({ env: { ZTMESH_WORKLOAD_API_SOCKET: `/${'x'.repeat(120)}` } })).message).toContain('longer than 107 bytes');
    expect(error(() => loadSidecarConfig({ flags: { 'workload-api-allow-gids': '*' } })).message).toContain('workloadApi.allowGids[0] = "*" (from --workload-api-allow-gids): must be a gid');
    expect(error(() => loadSidecarConfig({ flags: { 'workload-api-files': '{dir: /d, keyFile: ../etc/shadow}' } })).message).toContain('workloadApi.files.keyFile');
    expect(error(() => loadSidecarConfig({ flags: { 'workload-api-files': '{dir: /d, onRotate: {signal: SIGKILL, pidFile: /p}}' } })).message).toContain('workloadApi.files.onRotate');
  });
});
