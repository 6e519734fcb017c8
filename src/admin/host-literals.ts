// What a host string names, for the admin's Host checks and bind checks: an IP literal, loopback, or a name.
// Pure string and address arithmetic; no DNS lookups (a name is never trusted to mean loopback, except `localhost`).
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Unspecified addresses: a listener bound to one of these answers on every address of the host. */
export const WILDCARD_HOSTS: readonly string[] = ['0.0.0.0', '::', '0:0:0:0:0:0:0:0'];

/** The IP family of a literal ("127.0.0.1", "::1", without brackets), or undefined for a name. */
export function ipFamily(host: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(host);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** True for 127.0.0.0/8, ::1 (any spelling, also ::ffff:127.x.y.z) and the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = ipFamily(host);
  return family !== undefined && LOOPBACK.check(host, family);
}

/** True for 0.0.0.0 and :: (every interface). */
export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.includes(host.toLowerCase());
}

/** True when two IP literals name the same address (IPv4-mapped IPv6 equals its IPv4 form). */
export function sameIp(a: string, b: string): boolean {
  const fa = ipFamily(a);
  const fb = ipFamily(b);
  if (!fa || !fb) return false;
  const one = new BlockList();
  one.addAddress(a, fa);
  return one.check(b, fb);
}

/** A Host header split into host (brackets removed) and optional port; undefined when it is not host[:port]. */
export interface HostHeader {
  host: string;
  port: number | undefined;
}

/**
 * Parses a Host header value strictly: a reg-name of letters, digits, '-', '.', an IPv4 dotted quad, or a bracketed
 * IPv6 literal, then an optional decimal port. Anything else (userinfo, spaces, several ports) is undefined.
 */
export function parseHostHeader(value: string): HostHeader | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(value);
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && port > 65535) return undefined;
  if (m[1] !== undefined) return ipFamily(m[1]) === 'ipv6' ? { host: m[1], port } : undefined;
  return { host: m[2]!, port };
}
