// CIDR text of either IP family, parsed once for every part that takes one: iptables rules, transparent
// destinations, and the annotations injection validates (so a CIDR the init container would refuse is refused first).
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

/** Parses "a/b" (or a bare address, a host route) as a CIDR of either family; undefined when it is not one. */
export function parseCidr(text: string): { address: string; prefix: number; family: IpFamily } | undefined {
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
