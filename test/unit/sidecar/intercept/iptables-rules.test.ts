// Table tests of the pure rule builder: which rules each option produces, in which order.
import { describe, expect, it } from 'vitest';
import {
  buildRules, cleanupCommands, defaultInterceptOptions, inboundExcludedPorts, validateInterceptOptions,
  type InterceptOptions,
} from '../../../../src/sidecar/intercept/iptables-rules.js';

const opts = (o: Partial<InterceptOptions> = {}): InterceptOptions => ({ ...defaultInterceptOptions(), ...o });
const rulesOf = (text: string, chain: string) => text.split('\n').filter((l) => l.startsWith(`-A ${chain} `));

describe('buildRules', () => {
  it('declares the four ZTMESH_ chains in the nat table and commits', () => {
    const r = buildRules(opts(), 4);
    expect(r.split('\n').slice(0, 5)).toEqual([
      '*nat', ':ZTMESH_INBOUND - [0:0]', ':ZTMESH_REDIRECT - [0:0]', ':ZTMESH_IN_REDIRECT - [0:0]', ':ZTMESH_OUTPUT - [0:0]',
    ]);
    expect(r.trimEnd().endsWith('COMMIT')).toBe(true);
    // Jumps from built-in chains are added by the applier only when missing (idempotent re-runs).
    expect(r).not.toMatch(/-A (PREROUTING|OUTPUT) /);
  });

  it.each([
    { name: 'defaults', o: opts(), family: 4 as const, redirect: 15001, inRedirect: 15006 },
    { name: 'custom ports', o: opts({ inboundPort: 16006, outboundPort: 16001 }), family: 4 as const, redirect: 16001, inRedirect: 16006 },
    { name: 'IPv6', o: opts(), family: 6 as const, redirect: 15001, inRedirect: 15006 },
  ])('redirect targets: $name', ({ o, family, redirect, inRedirect }) => {
    const r = buildRules(o, family);
    expect(rulesOf(r, 'ZTMESH_REDIRECT')).toEqual([`-A ZTMESH_REDIRECT -p tcp -j REDIRECT --to-ports ${redirect}`]);
    expect(rulesOf(r, 'ZTMESH_IN_REDIRECT')).toEqual([`-A ZTMESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${inRedirect}`]);
  });

  it.each([
    { name: 'all ports except the sidecar\'s own (15020, its metrics in a pod, included)', o: opts(), expected: [
      '-A ZTMESH_INBOUND -p tcp --dport 15000 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15001 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15006 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15021 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp -j ZTMESH_IN_REDIRECT',
    ] },
    { name: 'local CA and user exclusions', o: opts({ localCa: true, excludeInboundPorts: [22, 15000] }), expected: [
      '-A ZTMESH_INBOUND -p tcp --dport 22 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15000 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15001 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15006 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15012 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15021 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp -j ZTMESH_IN_REDIRECT',
    ] },
    { name: 'include list restricts, never to the sidecar\'s own ports', o: opts({ includeInboundPorts: [9090, 8080, 15006, 8080] }), expected: [
      '-A ZTMESH_INBOUND -p tcp --dport 8080 -j ZTMESH_IN_REDIRECT',
      '-A ZTMESH_INBOUND -p tcp --dport 9090 -j ZTMESH_IN_REDIRECT',
    ] },
    { name: 'include minus exclude', o: opts({ includeInboundPorts: [8080, 9090], excludeInboundPorts: [9090] }), expected: [
      '-A ZTMESH_INBOUND -p tcp --dport 8080 -j ZTMESH_IN_REDIRECT',
    ] },
    { name: 'moved listeners are excluded too', o: opts({ inboundPort: 16006 }), expected: [
      '-A ZTMESH_INBOUND -p tcp --dport 15000 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15001 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15006 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 15021 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp --dport 16006 -j RETURN',
      '-A ZTMESH_INBOUND -p tcp -j ZTMESH_IN_REDIRECT',
    ] },
  ])('inbound: $name', ({ o, expected }) => {
    expect(rulesOf(buildRules(o, 4), 'ZTMESH_INBOUND')).toEqual(expected);
  });

  it.each([
    { name: 'IPv4 defaults', o: opts(), family: 4 as const, expected: [
      '-A ZTMESH_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
      '-A ZTMESH_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j ZTMESH_IN_REDIRECT',
      '-A ZTMESH_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
      '-A ZTMESH_OUTPUT -m owner --uid-owner 1337 -j RETURN',
      '-A ZTMESH_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --gid-owner 1337 -j ZTMESH_IN_REDIRECT',
      '-A ZTMESH_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN',
      '-A ZTMESH_OUTPUT -m owner --gid-owner 1337 -j RETURN',
      '-A ZTMESH_OUTPUT -d 127.0.0.1/32 -j RETURN',
      '-A ZTMESH_OUTPUT -j ZTMESH_REDIRECT',
    ] },
    { name: 'IPv6 uses ::6 and ::1, other uid/gid, exclusions of its own family only', family: 6 as const,
      o: opts({ proxyUid: 2000, proxyGid: 3000, excludeOutboundPorts: [5432, 53, 53], excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8'] }), expected: [
        '-A ZTMESH_OUTPUT -s ::6/128 -o lo -j RETURN',
        '-A ZTMESH_OUTPUT ! -d ::1/128 -o lo -p tcp -m owner --uid-owner 2000 -j ZTMESH_IN_REDIRECT',
        '-A ZTMESH_OUTPUT -o lo -m owner ! --uid-owner 2000 -j RETURN',
        '-A ZTMESH_OUTPUT -m owner --uid-owner 2000 -j RETURN',
        '-A ZTMESH_OUTPUT ! -d ::1/128 -o lo -p tcp -m owner --gid-owner 3000 -j ZTMESH_IN_REDIRECT',
        '-A ZTMESH_OUTPUT -o lo -m owner ! --gid-owner 3000 -j RETURN',
        '-A ZTMESH_OUTPUT -m owner --gid-owner 3000 -j RETURN',
        '-A ZTMESH_OUTPUT -d ::1/128 -j RETURN',
        '-A ZTMESH_OUTPUT -p tcp --dport 53 -j RETURN',
        '-A ZTMESH_OUTPUT -p tcp --dport 5432 -j RETURN',
        '-A ZTMESH_OUTPUT -d fd00::/8 -j RETURN',
        '-A ZTMESH_OUTPUT -j ZTMESH_REDIRECT',
      ] },
  ])('outbound: $name', ({ o, family, expected }) => {
    expect(rulesOf(buildRules(o, family), 'ZTMESH_OUTPUT')).toEqual(expected);
  });

  it('IPv4 takes the IPv4 CIDRs only; a bare address is a host route', () => {
    const out = rulesOf(buildRules(opts({ excludeOutboundCidrs: ['10.96.0.0/12', '169.254.169.254', 'fd00::/8'] }), 4), 'ZTMESH_OUTPUT');
    expect(out).toContain('-A ZTMESH_OUTPUT -d 10.96.0.0/12 -j RETURN');
    expect(out).toContain('-A ZTMESH_OUTPUT -d 169.254.169.254/32 -j RETURN');
    expect(out.join('\n')).not.toContain('fd00');
    expect(out.at(-1)).toBe('-A ZTMESH_OUTPUT -j ZTMESH_REDIRECT');
  });

  it('the 127.0.0.6 RETURN comes before the uid rule that would send the sidecar\'s forward back to inbound', () => {
    const out = rulesOf(buildRules(opts(), 4), 'ZTMESH_OUTPUT');
    const source = out.findIndex((l) => l.includes('-s 127.0.0.6/32'));
    const toInbound = out.findIndex((l) => l.includes('--uid-owner 1337 -j ZTMESH_IN_REDIRECT'));
    expect(source).toBe(0);
    expect(toInbound).toBeGreaterThan(source);
  });

  it('is deterministic (same input, same text)', () => {
    const o = opts({ excludeOutboundPorts: [3, 1, 2], excludeInboundPorts: [9, 8] });
    expect(buildRules(o, 4)).toBe(buildRules({ ...o }, 4));
  });
});

describe('validateInterceptOptions', () => {
  it.each([
    { o: opts({ proxyUid: -1 }), code: 'invalid_proxy_uid', msg: '--proxy-uid' },
    { o: opts({ proxyGid: 1.5 }), code: 'invalid_proxy_gid', msg: '--proxy-gid' },
    { o: opts({ inboundPort: 0 }), code: 'invalid_port', msg: '--inbound-port' },
    { o: opts({ outboundPort: 70000 }), code: 'invalid_port', msg: '--outbound-port' },
    { o: opts({ outboundPort: 15006 }), code: 'port_conflict', msg: 'both 15006' },
    { o: opts({ excludeInboundPorts: [80, 0] }), code: 'invalid_port', msg: '--exclude-inbound-ports: "0"' },
    { o: opts({ includeInboundPorts: [99999] }), code: 'invalid_port', msg: '--include-inbound-ports' },
    { o: opts({ excludeOutboundPorts: [NaN] }), code: 'invalid_port', msg: '--exclude-outbound-ports' },
    { o: opts({ excludeOutboundCidrs: ['10.0.0.0/33'] }), code: 'invalid_cidr', msg: '"10.0.0.0/33"' },
    { o: opts({ excludeOutboundCidrs: ['example.com/8'] }), code: 'invalid_cidr', msg: 'example.com' },
    { o: opts({ excludeOutboundCidrs: ['-j ACCEPT'] }), code: 'invalid_cidr', msg: '-j ACCEPT' },
  ])('refuses $code ($msg)', ({ o, code, msg }) => {
    expect(() => validateInterceptOptions(o)).toThrow(expect.objectContaining({ code, message: expect.stringContaining(msg) }));
    expect(() => buildRules(o, 4)).toThrow();
  });
});

describe('helpers', () => {
  it('inboundExcludedPorts is sorted and unique', () => {
    expect(inboundExcludedPorts(opts({ excludeInboundPorts: [15021, 22] }))).toEqual([22, 15000, 15001, 15006, 15020, 15021]);
  });

  it('cleanup deletes both jumps, then flushes and deletes the four chains', () => {
    const cmds = cleanupCommands().map((c) => c.join(' '));
    expect(cmds).toEqual([
      '-D PREROUTING -p tcp -j ZTMESH_INBOUND',
      '-D OUTPUT -p tcp -j ZTMESH_OUTPUT',
      '-F ZTMESH_INBOUND', '-F ZTMESH_REDIRECT', '-F ZTMESH_IN_REDIRECT', '-F ZTMESH_OUTPUT',
      '-X ZTMESH_INBOUND', '-X ZTMESH_REDIRECT', '-X ZTMESH_IN_REDIRECT', '-X ZTMESH_OUTPUT',
    ]);
  });
});
