// host:port parsing and formatting shared by config, CLI flags, dialers and log lines: the one place a host and a
// port are joined (test/unit/common/address.test.ts holds src/ to it).
import { ConfigError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port", "[v6]:port" or ":port" (all interfaces). Throws ConfigError naming `what`. */
export function parseHostPort(text: string, what: string, defaultHost = '0.0.0.0'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ConfigError('invalid_address', `${what}: "${text}" is not host:port`);
  }
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

/** Formats a host and port, bracketing IPv6 literals: "10.1.2.3:80", "[fd00::1]:80", "localhost:80". */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A socket's peer for log lines, "unknown" once the socket has no address (it closed). */
export function formatPeer(address: string | undefined, port: number | undefined): string {
  return address ? formatHostPort(address, port ?? 0) : 'unknown';
}

/**
 * A peer as grpc-js's call.getPeer() names it: "address:port", without brackets even for IPv6, so a listener that
 * hands grpc-js its connections finds a call's connection again by this name.
 */
export function grpcPeerName(address: string, port: number | undefined): string {
  return `${address}:${port ?? 0}`;
}
