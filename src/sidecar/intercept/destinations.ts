// What the sidecar's own `transparent` config says of an original destination: plain passthrough, mTLS with an
// expected server ID (`expect`), or nothing (then membership decides: mesh/outbound-decision.ts). Compiled once; pure.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../../common/errors.js';
import { parseSpiffePattern, type SpiffePattern } from '../../pki/spiffe-id.js';
import type { StaticRoute } from '../../mesh/outbound-decision.js';
import { normalizeAddress, parseCidr } from '../../common/cidr.js';
import type { OriginalDst } from './original-dst.js';

export type { StaticRoute } from '../../mesh/outbound-decision.js';

interface ExpectRule {
  key: string;
  list: BlockList;
  prefix: number;
  port: number | '*';
  pattern: SpiffePattern;
}

const familyOf = (a: string): 'ipv4' | 'ipv6' => (isIPv4(a) ? 'ipv4' : 'ipv6');

/** Parses an `expect` key: "CIDR:port", "[v6CIDR]:port" or "v6CIDR:port", port a number or "*". */
export function parseExpectKey(key: string): { cidr: string; address: string; prefix: number; family: 4 | 6; port: number | '*' } {
  const bad = (why: string) => new ConfigError('invalid_expect', `transparent.expect: "${key}" ${why} (use "10.0.0.0/8:8080" or "[fd00::/8]:*")`);
  const i = key.lastIndexOf(':');
  if (i <= 0) throw bad('has no ":port"');
  let cidrText = key.slice(0, i).trim();
  const portText = key.slice(i + 1).trim();
  if (cidrText.startsWith('[') && cidrText.endsWith(']')) cidrText = cidrText.slice(1, -1);
  const port = portText === '*' ? '*' : /^\d{1,5}$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535 ? Number(portText) : undefined;
  if (port === undefined) throw bad(`has a bad port "${portText}"`);
  const cidr = parseCidr(cidrText);
  if (!cidr) throw bad(`has a bad CIDR "${cidrText}"`);
  return { cidr: `${cidr.address}/${cidr.prefix}`, ...cidr, port };
}

/** The compiled routing policy of transparent outbound. */
export class DestinationPolicy {
  private readonly passthroughCidrs = new BlockList();
  private readonly passthroughPorts: ReadonlySet<number>;
  private readonly expectRules: ExpectRule[];
  readonly passthroughSummary: string;

  constructor(cfg: { expect: Record<string, string>; passthrough: { cidrs: string[]; ports: number[] } }) {
    for (const c of cfg.passthrough.cidrs) {
      const p = parseCidr(c);
      if (!p) throw new ConfigError('invalid_cidr', `transparent.passthrough.cidrs: "${c}" is not an IPv4 or IPv6 CIDR`);
      this.passthroughCidrs.addSubnet(p.address, p.prefix, p.family === 4 ? 'ipv4' : 'ipv6');
    }
    this.passthroughPorts = new Set(cfg.passthrough.ports);
    this.expectRules = Object.entries(cfg.expect).map(([key, pattern]) => {
      const k = parseExpectKey(key);
      const list = new BlockList();
      list.addSubnet(k.address, k.prefix, k.family === 4 ? 'ipv4' : 'ipv6');
      return { key, list, prefix: k.prefix, port: k.port, pattern: parseSpiffePattern(pattern) };
    });
    // Most specific first: longer prefix, then an exact port before "*".
    this.expectRules.sort((a, b) => b.prefix - a.prefix || (a.port === '*' ? 1 : 0) - (b.port === '*' ? 1 : 0));
    this.passthroughSummary = [...cfg.passthrough.cidrs, ...cfg.passthrough.ports.map((p) => `*:${p}`)].join(',') || 'none';
  }

  /** What the configuration says of a destination. Pure. */
  route(dst: Pick<OriginalDst, 'address' | 'port'>): StaticRoute {
    const address = normalizeAddress(dst.address);
    if (!isIPv4(address) && !isIPv6(address)) return { kind: 'none' };
    const family = familyOf(address);
    if (this.passthroughPorts.has(dst.port)) return { kind: 'passthrough', because: 'port' };
    if (this.passthroughCidrs.check(address, family)) return { kind: 'passthrough', because: 'cidr' };
    for (const r of this.expectRules) {
      if ((r.port === '*' || r.port === dst.port) && r.list.check(address, family)) return { kind: 'expect', expect: r.pattern, rule: r.key };
    }
    return { kind: 'none' };
  }
}

/** The sidecar's own listening ports on this host: a connection whose original destination is one of them was not redirected. */
export class OwnListeners {
  private readonly ports: ReadonlySet<number>;

  constructor(ports: number[], private readonly localAddresses: () => ReadonlySet<string>) {
    this.ports = new Set(ports);
  }

  /** True when dst is one of our listeners (any local address, since they bind the wildcard). */
  has(dst: Pick<OriginalDst, 'address' | 'port'>): boolean {
    if (!this.ports.has(dst.port)) return false;
    const a = normalizeAddress(dst.address);
    return a.startsWith('127.') || a === '::1' || a === '0.0.0.0' || a === '::' || this.localAddresses().has(a);
  }
}
