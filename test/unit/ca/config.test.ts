// `ca serve` flags → frozen config; bad values name the flag.
import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../../src/ca/config.js';

describe('parseServeConfig', () => {
  it('applies the defaults of docs/design.md and freezes the result', () => {
    const c = parseServeConfig({ dir: '/x' });
    expect(c).toMatchObject({
      listen: { host: '0.0.0.0', port: 15012 }, admin: { host: '127.0.0.1', port: 15010 },
      defaultTtlMs: 3_600_000, minTtlMs: 60_000, maxTtlMs: 86_400_000, dnsNames: ['localhost'],
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.dnsNames)).toBe(true);
    expect(c.connections).toEqual({ handshakeTimeoutMs: 10_000, max: 2048, maxPerSource: 32 });
    expect(c.reservedGrants).toEqual([]);
  });

  it('reads the connection limits and repeated --grant-reserved-id', () => {
    const c = parseServeConfig({ dir: '/x', handshakeTimeout: '2s', maxConnections: '100', maxConnectionsPerSource: '4', grantReservedId: ['a/b', 'c/d'] });
    expect(c.connections).toEqual({ handshakeTimeoutMs: 2_000, max: 100, maxPerSource: 4 });
    expect(c.reservedGrants).toEqual(['a/b', 'c/d']);
    expect(parseServeConfig({ dir: '/x', grantReservedId: 'a/b' }).reservedGrants).toEqual(['a/b']);
  });

  it('JWT-SVIDs: 5 minutes by default, capped at 1 h, a key per 24 h; bad values name the flag', () => {
    expect(parseServeConfig({ dir: '/x' }).jwt).toEqual({ defaultTtlMs: 300_000, maxTtlMs: 3_600_000, keyPeriodMs: 86_400_000 });
    expect(parseServeConfig({ dir: '/x', jwtTtl: '2s', jwtMaxTtl: '10s', jwtKeyPeriod: '2s' }).jwt).toEqual({ defaultTtlMs: 2_000, maxTtlMs: 10_000, keyPeriodMs: 2_000 });
    expect(() => parseServeConfig({ dir: '/x', jwtTtl: '2h' })).toThrow(/--jwt-ttl "2h": must lie within \[1s, --jwt-max-ttl\]/);
    expect(() => parseServeConfig({ dir: '/x', jwtKeyPeriod: '10ms' })).toThrow(/--jwt-key-period "10ms": must be at least 1s/);
    expect(() => parseServeConfig({ dir: '/x', jwtMaxTtl: 'soon' })).toThrow(/--jwt-max-ttl "soon": not a duration/);
  });

  it('reads flags, repeated and comma-separated --dns', () => {
    const c = parseServeConfig({ dir: '/x', listen: '127.0.0.1:0', minTtl: '1s', defaultTtl: '30s', maxTtl: '1m', dns: ['a.example,b.example', 'c'], rateLimit: '0', signWorkers: '0' });
    expect(c).toMatchObject({ listen: { host: '127.0.0.1', port: 0 }, minTtlMs: 1000, defaultTtlMs: 30_000, maxTtlMs: 60_000, dnsNames: ['a.example', 'b.example', 'c'], signWorkers: 0 });
    expect(c.rate.perSecond).toBe(0);
  });

  it('reads the mesh flags: meshed CIDRs repeated and comma-separated, normalised and unique, and the inbound mode', () => {
    expect(parseServeConfig({ dir: '/x' }).mesh).toEqual({ meshedCidrs: [], defaultInboundMode: 'strict' });
    const c = parseServeConfig({ dir: '/x', meshedCidrs: ['10.0.0.0/8, FD00::/8', '10.0.0.0/8'], defaultInboundMode: 'permissive' });
    expect(c.mesh).toEqual({ meshedCidrs: ['10.0.0.0/8', 'fd00::/8'], defaultInboundMode: 'permissive' });
    expect(Object.isFrozen(c.mesh.meshedCidrs)).toBe(true);
  });

  it.each([
    [{}, '--dir'],
    [{ dir: '/x', defaultTtl: 'soon' }, '--default-ttl "soon"'],
    [{ dir: '/x', minTtl: '10m', maxTtl: '5m' }, '--max-ttl "5m"'],
    [{ dir: '/x', defaultTtl: '48h' }, '--default-ttl "48h"'],
    [{ dir: '/x', listen: 'nope' }, '--listen'],
    [{ dir: '/x', dns: ['bad name'] }, '--dns "bad name"'],
    [{ dir: '/x', rateLimit: '-1' }, '--rate-limit'],
    [{ dir: '/x', trustDomain: 'Bad' }, '--trust-domain "Bad"'],
    [{ dir: '/x', handshakeTimeout: '10ms' }, '--handshake-timeout "10ms"'],
    [{ dir: '/x', handshakeTimeout: 'never' }, '--handshake-timeout "never"'],
    [{ dir: '/x', maxConnections: '0' }, '--max-connections "0"'],
    [{ dir: '/x', maxConnectionsPerSource: 'many' }, '--max-connections-per-source "many"'],
    [{ dir: '/x', meshedCidrs: '10.0.0.0/8,10.1.2.3' }, '--meshed-cidrs "10.1.2.3"'],
    [{ dir: '/x', meshedCidrs: ['fd00::/129'] }, '--meshed-cidrs "fd00::/129"'],
    [{ dir: '/x', defaultInboundMode: 'open' }, '--default-inbound-mode "open"'],
  ])('refuses %j naming %s', (flags, named) => {
    expect(() => parseServeConfig(flags)).toThrow(expect.objectContaining({ message: expect.stringContaining(named) }));
  });

  it('refuses --admin beyond loopback without --admin-allow-remote (admin_remote_not_allowed), and takes it with the flag', () => {
    for (const admin of ['0.0.0.0:15010', '10.1.2.3:15010', '[::]:15010']) {
      expect(() => parseServeConfig({ dir: '/x', admin })).toThrow(expect.objectContaining({
        code: 'admin_remote_not_allowed', message: expect.stringMatching(/^--admin ".*:15010" is not a loopback address.*--admin-allow-remote/),
      }));
    }
    expect(parseServeConfig({ dir: '/x', admin: '0.0.0.0:15010', adminAllowRemote: true })).toMatchObject({ admin: { host: '0.0.0.0', port: 15010 }, adminAllowRemote: true });
    expect(parseServeConfig({ dir: '/x', admin: '[::1]:15010' }).adminAllowRemote).toBe(false);
    expect(parseServeConfig({ dir: '/x', admin: ':15010' }).admin.host).toBe('127.0.0.1');
  });
});
