// The membership matcher: tables for the rules (most specific entry, ports, IPv4 and IPv6, identities) and
// fast-check against a naive reference over random sets and destinations of both families.
import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4ToNumber, ipv6ToBigInt, parseCidr } from '../../../src/common/cidr.js';
import type { MeshedDestination } from '../../../src/mesh/destination.js';
import { MembershipSet } from '../../../src/mesh/membership-set.js';

const TD = 'spiffe://cluster.local';
const d = (key: string, cidrs: string[], ports: number[] = [], identities: string[] = []): MeshedDestination => ({ key, cidrs, ports, identities });
const setOf = (...list: MeshedDestination[]) => {
  const s = new MembershipSet();
  s.apply({ version: 'v1', base: '', upsert: list, remove: [] });
  return s;
};
const ids = (s: MembershipSet, a: string, p: number) => s.match(a, p)?.expect.map((x) => x.text);

describe('MembershipSet.match', () => {
  const set = setOf(
    d('pod/default/a', ['10.0.0.7/32'], [], [`${TD}/ns/default/sa/a`]),
    d('svc/default/api', ['10.96.0.10/32', 'fd00:96::10/128'], [80, 443], [`${TD}/ns/default/sa/api`]),
    d('static/10.1.0.0/16', ['10.1.0.0/16']),
    d('static/10.1.2.0/24-5432', ['10.1.2.0/24'], [5432], [`${TD}/ns/db/sa/pg`]),
    d('pod/default/v6', ['fd00::7/128'], [], [`${TD}/ns/default/sa/v6`]),
    d('static/fd00:1::/32', ['fd00:1::/32']),
    d('announce/x/10.2.0.1', ['10.2.0.1/32'], [], [`${TD}/ns/a/sa/x`]),
    d('announce/y/10.2.0.1', ['10.2.0.1/32'], [], [`${TD}/ns/a/sa/y`]),
  );
  it.each([
    ['a pod IP, any port', '10.0.0.7', 1234, 'pod/default/a'],
    ['the IPv4-mapped form of a pod IP', '::ffff:10.0.0.7', 9, 'pod/default/a'],
    ['a Service on a port it names', '10.96.0.10', 443, 'svc/default/api'],
    ['a Service on another port', '10.96.0.10', 8080, undefined],
    ['a Service over IPv6', 'fd00:96:0:0:0:0:0:10', 80, 'svc/default/api'],
    ['inside a static /16', '10.1.200.3', 22, 'static/10.1.0.0/16'],
    ['a /24 naming the port beats the /16', '10.1.2.3', 5432, 'static/10.1.2.0/24-5432'],
    ['the /24 on another port: the /16 decides', '10.1.2.3', 5433, 'static/10.1.0.0/16'],
    ['an IPv6 pod', 'fd00::7', 80, 'pod/default/v6'],
    ['inside an IPv6 /32', 'fd00:1:ffff::1', 80, 'static/fd00:1::/32'],
    ['outside everything (IPv4)', '192.168.1.1', 80, undefined],
    ['outside everything (IPv6)', '2001:db8::1', 80, undefined],
    ['not an address', 'example.org', 80, undefined],
  ])('%s', (_what, address, port, key) => {
    expect(set.match(address, port)?.key).toBe(key);
  });

  it('names the identities expected, and any ID when the entry names none', () => {
    expect(ids(set, '10.0.0.7', 1)).toEqual([`${TD}/ns/default/sa/a`]);
    expect(ids(set, '10.1.9.9', 1)).toEqual([]);
  });

  it('combines equally specific entries: any of their identities', () => {
    expect(ids(set, '10.2.0.1', 1)?.sort()).toEqual([`${TD}/ns/a/sa/x`, `${TD}/ns/a/sa/y`]);
    const open = setOf(d('a', ['10.3.0.1/32'], [], [`${TD}/ns/a/sa/x`]), d('b', ['10.3.0.1/32']));
    expect(ids(open, '10.3.0.1', 1)).toEqual([]);
  });

  it('takes deltas on the version it holds, refuses them on another, and replaces everything on a snapshot', () => {
    const s = setOf(d('a', ['10.0.0.1/32']), d('b', ['10.0.0.2/32']));
    expect(s.check({ version: 'v3', base: 'v2', upsert: [], remove: ['a'] })).toMatchObject({ code: 'base_mismatch' });
    const delta = { version: 'v2', base: 'v1', upsert: [d('c', ['10.0.0.3/32']), d('b', ['10.0.0.22/32'])], remove: ['a', 'nope'] };
    expect(s.check(delta)).toBeUndefined();
    s.apply(delta);
    expect(s.version).toBe('v2');
    expect([s.match('10.0.0.1', 1), s.match('10.0.0.2', 1)]).toEqual([undefined, undefined]);
    expect([s.match('10.0.0.3', 1)?.key, s.match('10.0.0.22', 1)?.key]).toEqual(['c', 'b']);
    s.apply({ version: 'v9', base: '', upsert: [d('z', ['10.9.0.0/16'])], remove: [] });
    expect([s.size, s.match('10.0.0.3', 1), s.match('10.9.1.1', 1)?.key]).toEqual([1, undefined, 'z']);
    expect([...s.destinations()]).toEqual([d('z', ['10.9.0.0/16'])]);
  });

  it('an entry whose CIDR is not a network address still matches its network', () => {
    expect(setOf(d('x', ['10.4.5.6/16'])).match('10.4.0.1', 1)?.key).toBe('x');
  });
});

/** The rules, written the slow and obvious way. */
function reference(list: MeshedDestination[], address: string, port: number): string[] {
  const v4 = isIPv4(address);
  const a = v4 ? BigInt(ipv4ToNumber(address)) : ipv6ToBigInt(address);
  const bits = v4 ? 32 : 128;
  let best: { prefix: number; exact: boolean; keys: string[] } | undefined;
  for (const e of list) {
    for (const text of e.cidrs) {
      const c = parseCidr(text)!;
      if ((c.family === 4) !== v4) continue;
      const net = c.family === 4 ? BigInt(ipv4ToNumber(c.address)) : ipv6ToBigInt(c.address);
      const shift = BigInt(bits - c.prefix);
      if (a >> shift !== net >> shift) continue;
      const exact = e.ports.includes(port);
      if (!exact && e.ports.length > 0) continue;
      const better = !best || c.prefix > best.prefix || (c.prefix === best.prefix && exact && !best.exact);
      if (better) best = { prefix: c.prefix, exact, keys: [e.key] };
      else if (best && c.prefix === best.prefix && exact === best.exact && !best.keys.includes(e.key)) best.keys.push(e.key);
    }
  }
  return best?.keys ?? [];
}

describe('MembershipSet.match agrees with the rules written naively', () => {
  // Small address spaces so that random destinations land inside random CIDRs often.
  const v4 = fc.tuple(fc.constantFrom(10, 172), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })).map((p) => p.join('.'));
  const v6 = fc.tuple(fc.constantFrom('fd00', '2001'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff })).map(([a, b, c]) => `${a}:${b}::${c.toString(16)}`);
  const cidr = fc.oneof(
    fc.tuple(v4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(v6, fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
  );
  const port = fc.integer({ min: 1, max: 6 });
  const entry = fc.record({ cidrs: fc.array(cidr, { minLength: 1, maxLength: 3 }), ports: fc.uniqueArray(port, { maxLength: 2 }) });
  it('for random sets and destinations, IPv4 and IPv6', () => {
    fc.assert(fc.property(fc.array(entry, { maxLength: 12 }), fc.array(fc.tuple(fc.oneof(v4, v6), port), { minLength: 1, maxLength: 10 }), (entries, probes) => {
      const list = entries.map((e, i) => d(`k${i}`, e.cidrs, e.ports));
      const s = setOf(...list);
      for (const [address, p] of probes) {
        const want = reference(list, address, p);
        const got = s.match(address, p);
        if (want.length === 0) expect(got).toBeUndefined();
        else expect(want).toContain(got?.key);
      }
    }), { numRuns: 300 });
  });

  it('after any sequence of deltas, as after one snapshot of the result', () => {
    const op = fc.oneof(
      fc.record({ up: fc.integer({ min: 0, max: 6 }), e: entry }),
      fc.record({ rm: fc.integer({ min: 0, max: 6 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), fc.array(fc.tuple(fc.oneof(v4, v6), port), { minLength: 1, maxLength: 10 }), (ops, probes) => {
      const s = new MembershipSet();
      const model = new Map<string, MeshedDestination>();
      let v = 0;
      s.apply({ version: 'v0', base: '', upsert: [], remove: [] });
      for (const o of ops) {
        const base = `v${v}`;
        v++;
        if ('up' in o) {
          const x = d(`k${o.up}`, o.e.cidrs, o.e.ports);
          model.set(x.key, x);
          s.apply({ version: `v${v}`, base, upsert: [x], remove: [] });
        } else {
          model.delete(`k${o.rm}`);
          s.apply({ version: `v${v}`, base, upsert: [], remove: [`k${o.rm}`] });
        }
      }
      expect(s.size).toBe(model.size);
      for (const [address, p] of probes) {
        const want = reference([...model.values()], address, p);
        const got = s.match(address, p);
        if (want.length === 0) expect(got).toBeUndefined();
        else expect(want).toContain(got?.key);
      }
    }), { numRuns: 200 });
  });
});
