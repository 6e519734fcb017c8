// IP addresses and CIDRs of either family, parsed once for every part that takes one (iptables rules, transparent
// destinations, membership, the annotations injection validates), the IPv4-mapped form an IPv6 socket reports, and
// the numeric form a prefix is masked in. Pure.
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

/** A parsed CIDR: the address as written (not masked), its prefix length and family. */
export interface Cidr {
  address: string;
  prefix: number;
  family: IpFamily;
}

/** Parses "a/b" (or a bare address: a host prefix) as a CIDR of either family; undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  if (!m) return undefined;
  const address = m[1]!;
  const family: IpFamily | undefined = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (!family) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return undefined;
  return { address, prefix, family };
}

/** Strips the IPv4-mapped prefix so that "::ffff:10.0.0.1" and "10.0.0.1" compare equal. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** An IPv4 address as an unsigned 32-bit number. The caller passes a valid IPv4 literal. */
export function ipv4ToNumber(address: string): number {
  let n = 0;
  for (const part of address.split('.')) n = n * 256 + Number(part);
  return n >>> 0;
}

/** An IPv6 address (any valid spelling, an embedded IPv4 tail included) as a 128-bit bigint. The caller passes a valid IPv6 literal. */
export function ipv6ToBigInt(address: string): bigint {
  let text = address.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToNumber(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g || '0', 16));
  return n;
}

/** Formats a 128-bit bigint as an IPv6 literal (uncompressed groups, lower case). */
export function bigIntToIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}
