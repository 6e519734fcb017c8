// Where an inbound sends a tunnel stream (sidecar/tunnel/target.ts): an explicit listener only ever to its own forward, and
// only for an :authority that names it; transparent mode only to the pod's own (non-loopback) addresses and app ports.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../../../src/common/address.js';
import { parseAuthority } from '../../../../src/sidecar/tunnel/protocol.js';
import { listenerTargets, podTargets } from '../../../../src/sidecar/tunnel/target.js';

describe('explicit listener targets', () => {
  const targets = listenerTargets({ name: 'api', port: 15006, forward: { host: '127.0.0.1', port: 8080 } });
  it.each([
    ['api.default.svc:15006', true],
    ['10.1.2.3:15006', true],
    ['[fd00::1]:15006', true],
    ['api', true],
    ['api:443', true],
    ['127.0.0.1:8080', true],
    ['svc.example:8080', true],
    ['127.0.0.1:22', false],
    ['10.0.0.1:15007', false],
    ['metadata.google.internal:80', false],
    ['', false],
    [undefined, false],
    ['15006', false],
    ['host:0', false],
    ['host:99999', false],
    ['a:b:15006', false],
  ])('%s → allowed %s, always to the forward address', (authority, allowed) => {
    const r = targets.resolve(authority);
    expect(r.ok).toBe(allowed);
    if (r.ok) expect(r.route).toEqual({ forward: { host: '127.0.0.1', port: 8080 } });
    else expect(r.detail).toContain(JSON.stringify(authority ?? ''));
  });
});

describe('transparent (pod) targets', () => {
  const targets = podTargets({
    podAddresses: () => new Set(['10.0.0.7', 'fd00::7', '127.0.0.1', '::1']),
    ownPorts: new Set([15001, 15006, 15000, 15021]), sourceV4: '127.0.0.6', sourceV6: '::6',
  });
  it.each([
    ['10.0.0.7:8080', { forward: { host: '10.0.0.7', port: 8080 }, localAddress: '127.0.0.6' }],
    ['[::ffff:10.0.0.7]:9090', { forward: { host: '10.0.0.7', port: 9090 }, localAddress: '127.0.0.6' }],
    ['[fd00::7]:8080', { forward: { host: 'fd00::7', port: 8080 }, localAddress: '::6' }],
  ])('%s → %j', (authority, route) => {
    expect(targets.resolve(authority)).toEqual({ ok: true, route });
  });
  it.each([
    ['10.0.0.8:8080', 'not an address of this pod'],
    ['127.0.0.1:8080', 'loopback'],
    ['[::1]:8080', 'loopback'],
    ['0.0.0.0:8080', 'loopback or wildcard'],
    ['10.0.0.7:15006', 'own ports'],
    ['10.0.0.7:15000', 'own ports'],
    ['api.default.svc:8080', 'not an IP address'],
    ['10.0.0.7', 'not ip:port'],
  ])('%s is refused (%s)', (authority, why) => {
    const r = targets.resolve(authority);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toContain(why);
  });
});

describe(':authority parsing', () => {
  it('round-trips every host and port the outbound sends', () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
    fc.assert(fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
      expect(parseAuthority(formatHostPort(h, port))).toEqual({ host: h, port });
    }));
  });
  it('never throws, and accepts only host:port with a port in 1–65535', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      const a = parseAuthority(s);
      if (a) expect(a.port >= 1 && a.port <= 65535 && a.host.length > 0).toBe(true);
    }));
    fc.assert(fc.property(fc.string(), (s) => {
      for (const t of [listenerTargets({ name: 'x', port: 1, forward: { host: '127.0.0.1', port: 2 } }), podTargets({ podAddresses: () => new Set(['10.0.0.1']), ownPorts: new Set(), sourceV4: 'a', sourceV6: 'b' })]) {
        const r = t.resolve(s);
        if (r.ok) expect(['127.0.0.1', '10.0.0.1']).toContain(r.route.forward.host);
      }
    }));
  });
});
