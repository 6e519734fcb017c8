// Transparent mode's listeners, the data path's second source of BoundListeners (datapath.ts): the inbound (15006)
// and outbound (15001) interception listeners, on the same TLS material, dialer, metrics and drain as explicit mode.
import net from 'node:net';
import os from 'node:os';
import { parseHostPort } from '../../common/address.js';
import { listenErrno, listenOn } from '../../common/listen.js';
import { INBOUND_SOURCE_V6 } from '../../common/mesh.js';
import type { Clock } from '../../common/clock.js';
import { inboundOptions } from '../inbound/inbound.js';
import { standaloneMeshView, type DataPathContext, type ListenerHost } from '../datapath.js';
import { podTargets } from '../tunnel/target.js';
import { normalizeAddress } from '../../common/cidr.js';
import { DestinationPolicy, OwnListeners } from './destinations.js';
import { DialTracker } from './dial-tracker.js';
import { checkOriginalDst } from './original-dst.js';
import { TransparentInbound } from './transparent-inbound.js';
import { TransparentOutbound } from './transparent-outbound.js';

/** Binds on the IPv6 wildcard (dual stack: IPv4 arrives as ::ffff:a.b.c.d) or, without IPv6, on 0.0.0.0. */
async function listenWildcard(server: net.Server, port: number, label: string): Promise<string> {
  try {
    return await listenOn(server, { host: '::', port, ipv6Only: false }, label);
  } catch (err) {
    const errno = listenErrno(err);
    if (errno !== 'EAFNOSUPPORT' && errno !== 'EADDRNOTAVAIL') throw err;
    return listenOn(server, { host: '0.0.0.0', port }, label);
  }
}

/** Every address of this network namespace (pod IPs), for the loop guard. */
function localAddresses(): ReadonlySet<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.add(normalizeAddress(i.address));
  return out;
}

/** The same, read again at most every `ttlMs` (tunnel streams ask once each; interfaces rarely change). */
function cachedAddresses(clock: Clock, ttlMs: number): () => ReadonlySet<string> {
  let at = -Infinity;
  let addresses: ReadonlySet<string> = new Set();
  return () => {
    if (clock.now() - at >= ttlMs) {
      addresses = localAddresses();
      at = clock.now();
    }
    return addresses;
  };
}

/** How long the pod's own addresses are cached for tunnel targets. */
const POD_ADDRESSES_TTL_MS = 5_000;

export interface TransparentOptions {
  /** The boot check that SO_ORIGINAL_DST works here (original-dst.ts); tests without iptables pass their own. */
  probe?: () => Promise<unknown>;
}

/** Transparent mode's source; fails startup when SO_ORIGINAL_DST cannot be read in this network namespace. */
export function transparentListeners(opts: TransparentOptions = {}) {
  return async (dp: ListenerHost, ctx: DataPathContext): Promise<void> => {
    const cfg = ctx.config.transparent;
    const log = dp.log.child({ component: 'transparent' });
    const inTask = ctx.readiness.register('listener:transparent-inbound');
    const outTask = ctx.readiness.register('listener:transparent-outbound');

    const probe = await (opts.probe ?? checkOriginalDst)();
    log.info({ probe }, 'SO_ORIGINAL_DST works in this network namespace');

    const ownPorts = [cfg.inboundPort, cfg.outboundPort, parseHostPort(ctx.config.admin, 'admin').port, parseHostPort(ctx.config.health, 'health').port];
    const own = new OwnListeners(ownPorts, localAddresses);
    const destinations = new DestinationPolicy(cfg);

    // Our own upstream dials, explicit listeners' included: one of them redirected back to 15001 is a loop.
    const dials = new DialTracker();
    dp.watchDials((s) => dials.track(s));
    const inReporter = dp.reporter('inbound', log.child({ listener: 'transparent-inbound' }));
    const outReporter = dp.reporter('outbound', log.child({ listener: 'transparent-outbound' }));
    const mesh = ctx.mesh ?? standaloneMeshView(ctx.config);
    const traffic = dp.countTraffic();
    const inHandler = dp.inboundHandler(inReporter, {
      ...inboundOptions(cfg, dp.trustDomain, inReporter.log),
      permissive: { mode: () => mesh.inboundMode().mode, detectionTimeoutMs: cfg.detectionTimeout, onPlaintext: () => traffic.plaintext() },
    });
    const outHandler = dp.outboundHandler(outReporter, { handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout }, cfg.tunnel);
    // A tunnel stream may reach this pod's own addresses (never loopback) on any port but the sidecar's.
    const targets = podTargets({
      podAddresses: cachedAddresses(dp.clock, POD_ADDRESSES_TTL_MS), ownPorts: new Set(ownPorts), sourceV4: cfg.inboundSourceAddress, sourceV6: INBOUND_SOURCE_V6,
    });
    const inbound = new TransparentInbound({
      handler: inHandler, reporter: inReporter, own, sourceV4: cfg.inboundSourceAddress, sourceV6: INBOUND_SOURCE_V6, targets,
    });
    const outbound = new TransparentOutbound({
      handler: outHandler, reporter: outReporter, destinations, own, dials, log: outReporter.log, clock: dp.clock,
      idleTimeoutMs: cfg.idleTimeout, maxConnections: cfg.maxConnections, passthroughConnections: dp.connectionSet(),
      membership: mesh.membership, outboundPolicy: cfg.outboundPolicy, traffic,
    });

    const inServer = net.createServer({ allowHalfOpen: true }, (raw) => inbound.handle(raw));
    const outServer = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (app) => outbound.handle(app));
    // Past maxConnections node drops the accepted socket (reported by the data path); outbound counts its own.
    inServer.maxConnections = cfg.maxConnections;
    const inAddress = await listenWildcard(inServer, cfg.inboundPort, 'transparent inbound:');
    dp.add({ name: 'transparent-inbound', kind: 'transparent-inbound', server: inServer, address: inAddress, reporter: inReporter, inbound: inHandler });
    const outAddress = await listenWildcard(outServer, cfg.outboundPort, 'transparent outbound:');
    dp.add({
      name: 'transparent-outbound', kind: 'transparent-outbound', server: outServer, address: outAddress, reporter: outReporter,
      // Destinations that are not meshed are listed with their own counters, so an operator sees plain TCP leave.
      extraStatuses: () => [{ name: 'transparent-passthrough', kind: 'passthrough', address: destinations.passthroughSummary, ...outbound.passthrough }],
    });
    inTask.ready();
    outTask.ready();
    log.info({
      inbound: inAddress, outbound: outAddress, passthrough: destinations.passthroughSummary, outboundPolicy: cfg.outboundPolicy, inboundMode: mesh.inboundMode().mode,
    }, 'transparent listeners up');
  };
}
