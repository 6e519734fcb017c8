// Where an inbound may send one tunnel stream: the :authority it names, checked against the listener it arrived on.
// Never an open proxy: an explicit listener forwards only to its own forward address, transparent mode only to the pod.
import { isIPv4, isIPv6 } from 'node:net';
import type { HostPort } from '../../common/address.js';
import type { StreamTarget, TunnelTargets } from '../inbound/route.js';
import { parseAuthority } from './protocol.js';

const refuse = (authority: string | undefined, why: string): StreamTarget => ({ ok: false, detail: `${JSON.stringify(authority ?? '')} ${why}` });

/**
 * An explicit inbound listener's targets: its port as the peer dialled it (any host: a DNS name, a Service), its name,
 * or its forward address all mean "this listener", and every one of them goes to the forward address and nowhere else.
 */
export function listenerTargets(listener: { name: string; port: number; forward: HostPort }): TunnelTargets {
  const route: StreamTarget = { ok: true, route: { forward: listener.forward } };
  return {
    resolve(authority) {
      const a = parseAuthority(authority);
      if (!a) return authority === listener.name ? route : refuse(authority, 'is not host:port');
      if (a.port === listener.port || a.host === listener.name) return route;
      if (a.port === listener.forward.port) return route;
      return refuse(authority, `is not this listener (${listener.name}, port ${listener.port}, forwarding to port ${listener.forward.port})`);
    },
  };
}

const LOOPBACK_OR_ANY = (a: string) => a.startsWith('127.') || a === '::1' || a === '0.0.0.0' || a === '::';

/**
 * Transparent mode's targets: an address of this pod (never loopback, so apps bound only to 127.0.0.1 stay private)
 * and a port that is not the sidecar's own, forwarded from `sourceV4` or `sourceV6` as a redirected connection is.
 */
export function podTargets(opts: {
  podAddresses: () => ReadonlySet<string>;
  ownPorts: ReadonlySet<number>;
  sourceV4: string;
  sourceV6: string;
}): TunnelTargets {
  return {
    resolve(authority) {
      const a = parseAuthority(authority);
      if (!a) return refuse(authority, 'is not ip:port');
      const host = a.host.startsWith('::ffff:') && isIPv4(a.host.slice(7)) ? a.host.slice(7) : a.host;
      const v4 = isIPv4(host);
      if (!v4 && !isIPv6(host)) return refuse(authority, 'is not an IP address (transparent mode tunnels to the pod\'s own addresses)');
      if (LOOPBACK_OR_ANY(host)) return refuse(authority, 'is a loopback or wildcard address');
      if (!opts.podAddresses().has(host)) return refuse(authority, 'is not an address of this pod');
      if (opts.ownPorts.has(a.port)) return refuse(authority, 'is one of the sidecar\'s own ports');
      return { ok: true, route: { forward: { host, port: a.port }, localAddress: v4 ? opts.sourceV4 : opts.sourceV6 } };
    },
  };
}
